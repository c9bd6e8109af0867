/**
 * The TypeScript code blocks of the documentation, checked as code: every ```ts block of
 * README.md and docs/**.md is written to a file of its own and typechecked with the project's
 * compiler settings, `rxsync` and `rxsync/operators` resolving to src/; a block marked
 * ```ts run is also run with tsx and must exit cleanly. ```ts no-check leaves a block out
 * (for fragments that cannot stand alone; use it sparingly).
 *
 * Used by test/docs/snippets.spec.ts (part of `npm test`) and by `npm run check:docs`.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const LANGUAGES = new Set(['ts', 'typescript']);

/** One code block of a Markdown file. */
export interface Snippet {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** Line of the block's first code line in that file (1-based). */
  line: number;
  code: string;
  /** Marked ```ts run: run it too. */
  run: boolean;
  /** Marked ```ts no-check: left out. */
  skip: boolean;
}

/** What was wrong with one snippet: compiler errors, or how its run failed. */
export interface SnippetProblem {
  snippet: Snippet;
  /** `README.md:72:5 error TS2304: …`, or the failed run's output. */
  messages: string[];
}

/** README.md and every Markdown file under docs/, relative to `root`. */
export function documentationFiles(root = ROOT): string[] {
  const files = ['README.md'];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  if (existsSync(join(root, 'docs'))) walk('docs');
  return files;
}

/** The ```ts / ```typescript blocks of one Markdown text. */
export function extractSnippets(markdown: string, file: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(lines[index]!);
    if (!open) continue;
    const [, indent, fence, language, rest] = open as unknown as [string, string, string, string, string];
    const markers = rest.trim().split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let end = index + 1;
    for (; end < lines.length; end++) {
      const line = lines[end]!;
      if (line.trimStart().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    if (LANGUAGES.has(language.toLowerCase())) {
      snippets.push({ file, line: index + 2, code: body.join('\n'), run: markers.includes('run'), skip: markers.includes('no-check') });
    }
    index = end;
  }
  return snippets;
}

/** Every snippet of the documentation. */
export async function documentationSnippets(root = ROOT): Promise<Snippet[]> {
  const all: Snippet[] = [];
  for (const file of documentationFiles(root)) all.push(...extractSnippets(await readFile(join(root, file), 'utf8'), file));
  return all;
}

interface Exports {
  [subpath: string]: { types?: string } | string;
}

/**
 * `rxsync`, `rxsync/operators`, … as the package's `exports` name them, each mapped from its
 * published .d.ts in dist/ to the source file it is built from.
 */
async function entryPoints(root: string): Promise<Map<string, string>> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { name: string; exports: Exports };
  const map = new Map<string, string>();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'string' ? target : target.types;
    if (!types) continue;
    const source = types.replace(/^\.\/dist\//, './src/').replace(/\.d\.ts$/, '.js');
    map.set(`${pkg.name}${subpath.slice(1)}`, resolve(root, source));
  }
  return map;
}

/**
 * Points the snippet's imports at the work tree: the package's own names at src/, relative
 * paths at the Markdown file's directory. Only the specifiers change, so line and column
 * numbers stay those of the Markdown file.
 */
function rewriteImports(snippet: Snippet, root: string, entries: Map<string, string>): string {
  const base = dirname(join(root, snippet.file));
  return snippet.code.replace(/((?:\bfrom|\bimport)\s*\(?\s*)(['"])([^'"]+)\2/g, (whole, head: string, quote: string, specifier: string) => {
    const entry = entries.get(specifier);
    if (entry) return `${head}${quote}${entry}${quote}`;
    if (specifier.startsWith('./') || specifier.startsWith('../')) return `${head}${quote}${resolve(base, specifier)}${quote}`;
    return whole;
  });
}

function run(command: string, args: string[], cwd: string, timeout: number): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd, timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, output: `${stdout}${stderr}`.trim() || (error?.message ?? '') });
    });
  });
}

/**
 * Typechecks every snippet not marked no-check (one compiler run for all) and runs those
 * marked run. Resolves with the problems found, none when every snippet is fine.
 */
export async function checkSnippets(snippets: readonly Snippet[], root = ROOT): Promise<SnippetProblem[]> {
  const checked = snippets.filter((snippet) => !snippet.skip);
  if (checked.length === 0) return [];
  // Inside node_modules so that `rxjs`, `localforage`, … resolve as they do for the project
  // (node_modules is ignored by git, and the directory is removed afterwards).
  const cache = join(root, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(join(cache, 'rxsync-doc-snippets-'));
  try {
    const entries = await entryPoints(root);
    const fileOf = new Map<string, Snippet>();
    for (const [index, snippet] of checked.entries()) {
      const name = `${snippet.file.replace(/[^A-Za-z0-9]+/g, '_')}_L${snippet.line}_${index}.ts`;
      fileOf.set(name, snippet);
      await writeFile(join(dir, name), rewriteImports(snippet, root, entries));
    }
    // ES modules, as in the project (the folder is outside its package scope, under node_modules).
    await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(root, 'tsconfig.json'),
        // Each block is a module of its own, even one without import or export.
        compilerOptions: { noEmit: true, moduleDetection: 'force', rootDir: root },
        include: ['*.ts'],
      }),
    );

    const problems = new Map<Snippet, string[]>();
    const report = (snippet: Snippet, message: string): void => {
      problems.set(snippet, [...(problems.get(snippet) ?? []), message]);
    };
    const tsc = await run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--pretty', 'false'], dir, 120_000);
    if (tsc.code !== 0) {
      const unplaced: string[] = [];
      for (const line of tsc.output.split('\n')) {
        const error = /^(.*?)\((\d+),(\d+)\): (.*)$/.exec(line.trim());
        const snippet = error && fileOf.get(relative(dir, resolve(dir, error[1]!)));
        if (error && snippet) report(snippet, `${snippet.file}:${snippet.line + Number(error[2]) - 1}:${error[3]} ${error[4]}`);
        else if (line.trim() && !/^\s/.test(line)) unplaced.push(line);
      }
      if (problems.size === 0) throw new Error(`[rxsync] tsc failed on the documentation snippets:\n${unplaced.join('\n') || tsc.output}`);
    }
    for (const [name, snippet] of fileOf) {
      if (!snippet.run || problems.has(snippet)) continue;
      const outcome = await run(process.execPath, ['--import', 'tsx', name], dir, 60_000);
      if (outcome.code !== 0) report(snippet, `${snippet.file}:${snippet.line} exited with ${outcome.code}:\n${outcome.output}`);
    }
    return [...problems].map(([snippet, messages]) => ({ snippet, messages }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
