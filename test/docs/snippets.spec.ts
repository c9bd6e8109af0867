/**
 * Every ```ts block of README.md and docs/**.md compiles as written against the source (and the
 * ones marked ```ts run also run): a reader can paste any of them into a project.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkSnippets, documentationSnippets, extractSnippets, type Snippet, type SnippetProblem } from '../../scripts/docSnippets.js';

describe('the documentation\'s TypeScript blocks', () => {
  let snippets: Snippet[];
  let problems: SnippetProblem[];

  beforeAll(async () => {
    snippets = await documentationSnippets();
    problems = await checkSnippets(snippets);
  }, 180_000);

  it('are found in README.md and docs/', () => {
    expect(snippets.filter((snippet) => snippet.file === 'README.md' && !snippet.skip).length).toBeGreaterThan(0);
    expect(snippets.some((snippet) => snippet.run)).toBe(true);
  });

  it('each typecheck against src/, and the runnable ones run', () => {
    expect(problems.flatMap((problem) => problem.messages)).toEqual([]);
  });
});

describe('the snippet checker', () => {
  it('finds ts blocks with their markers and the line they start on, and nothing else', () => {
    const markdown = ['# t', '```ts', 'const a = 1;', '```', '```sh', 'ls', '```', '```ts run', 'a', '```', '~~~typescript no-check', 'b', '~~~'].join('\n');
    expect(extractSnippets(markdown, 'x.md')).toEqual([
      { file: 'x.md', line: 3, code: 'const a = 1;', run: false, skip: false },
      { file: 'x.md', line: 9, code: 'a', run: true, skip: false },
      { file: 'x.md', line: 12, code: 'b', run: false, skip: true },
    ]);
  });

  it('reports a compile error at its line in the Markdown file, and a failing run', async () => {
    const found = await checkSnippets([
      { file: 'README.md', line: 10, code: "import { createSyncEngine } from 'rxsync';\nconst n: number = createSyncEngine;", run: false, skip: false },
      { file: 'docs/x.md', line: 20, code: "import { backoffDelay } from 'rxsync/operators';\nif (backoffDelay(1, { jitter: 0, baseDelayMs: 5 }) !== 5) throw new Error('no');\nprocess.exit(3);", run: true, skip: false },
      { file: 'docs/y.md', line: 30, code: 'this is not code', run: false, skip: true },
    ]);
    expect(found.map((problem) => [problem.snippet.file, problem.messages.join('\n')])).toEqual([
      ['README.md', expect.stringMatching(/^README\.md:11:7 error TS2322/)],
      ['docs/x.md', expect.stringMatching(/^docs\/x\.md:20 exited with 3/)],
    ]);
  }, 120_000);
});
