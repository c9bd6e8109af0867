import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(import.meta.dirname, '../..');

/** The ```ts blocks of a markdown file, each a module of its own. */
function tsBlocks(file: string): string[] {
  return [...readFileSync(join(root, file), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

describe('docs/recipes.md', () => {
  it('every TypeScript block is a complete module that typechecks against the library', async () => {
    const blocks = tsBlocks('docs/recipes.md');
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    // Under node_modules/.cache (ignored by git), so the blocks resolve packages like any app would.
    const dir = join(root, 'node_modules', '.cache', `rxsync-recipes-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const files = blocks.map((code, i) => {
        const name = `recipe-${i + 1}.ts`;
        writeFileSync(join(dir, name), code);
        return name;
      });
      const tsconfig = {
        extends: join(root, 'tsconfig.json'),
        compilerOptions: {
          noEmit: true,
          types: ['node'],
          paths: { rxsync: [join(root, 'src/index.ts')], 'rxsync/operators': [join(root, 'src/operators/index.ts')] },
        },
        files,
        include: [],
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
      const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')]).catch((error: { stdout: string }) => error);
      expect(result.stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
