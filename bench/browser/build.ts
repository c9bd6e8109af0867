/**
 * Bundles the benchmark page and its service worker with esbuild into a directory the
 * reference server serves as `staticDir`. With `beforeRef`, a second page is built whose
 * rxsync uses `src/outboxStore.ts` as it was at that git revision, so one run can measure
 * a change to the store side by side with the code before it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

export interface BuiltBench {
  dir: string;
  /** Page file (served at `/{page}`) per variant of rxsync's code: `current`, and `before` when asked. */
  pages: { current: string; before?: string };
}

/** Serves `src/outboxStore.ts` from a git revision instead of the work tree. */
function outboxStoreAt(ref: string): Plugin {
  const source = execFileSync('git', ['show', `${ref}:src/outboxStore.ts`], { cwd: root, encoding: 'utf8' });
  return {
    name: 'outbox-store-at-ref',
    setup(b) {
      b.onResolve({ filter: /\/outboxStore\.js$/ }, (args) => ({ path: join(args.resolveDir, 'outboxStore.ts'), namespace: 'outbox-store-at-ref' }));
      b.onLoad({ filter: /.*/, namespace: 'outbox-store-at-ref' }, () => ({ contents: source, loader: 'ts', resolveDir: join(root, 'src') }));
    },
  };
}

async function bundle(entry: string, outfile: string, format: 'esm' | 'iife', plugins: Plugin[] = []): Promise<void> {
  await build({
    entryPoints: [join(here, entry)],
    outfile,
    bundle: true,
    format,
    platform: 'browser',
    target: 'es2022',
    // Not minified: the CPU profile maps bundle lines back to modules through esbuild's `// path` comments.
    minify: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    plugins,
  });
}

export async function buildBench(beforeRef?: string): Promise<BuiltBench> {
  const dir = await mkdtemp(join(tmpdir(), 'rxsync-browser-bench-'));
  const html = (script: string) => `<!doctype html><meta charset="utf-8"><title>rxsync browser bench</title><script type="module" src="/${script}"></script>\n`;
  await bundle('page.ts', join(dir, 'page.js'), 'esm');
  await bundle('sw.ts', join(dir, 'sw.js'), 'iife');
  await writeFile(join(dir, 'index.html'), html('page.js'));
  const pages: BuiltBench['pages'] = { current: 'index.html' };
  if (beforeRef) {
    await bundle('page.ts', join(dir, 'page-before.js'), 'esm', [outboxStoreAt(beforeRef)]);
    await writeFile(join(dir, 'before.html'), html('page-before.js'));
    pages.before = 'before.html';
  }
  return { dir, pages };
}

/** Which module each line of a bundle came from, read from esbuild's `// path` comments. */
export async function bundleModules(file: string): Promise<(line: number) => string> {
  const starts: [line: number, module: string][] = [];
  (await readFile(file, 'utf8')).split('\n').forEach((text, line) => {
    const match = /^\/\/ ((?:node_modules|src|bench)\/\S+)$/.exec(text);
    if (match) starts.push([line, match[1]]);
  });
  return (line) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = '(bundle)';
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid][0] <= line) {
        found = starts[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}
