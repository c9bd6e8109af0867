/**
 * Builds the demo page into a directory the reference server can serve as `staticDir`:
 * index.html, app.css, app.js (demo/app.ts bundled with rxsync's src/, rxjs and localforage)
 * and sw.js (a service worker that caches that app shell, so the page also loads offline).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** The files of the app shell, as the service worker precaches them. */
export const SHELL_FILES = ['index.html', 'app.css', 'app.js'] as const;

export interface BuiltDemo {
  /** The directory holding the built page. */
  dir: string;
  /** Hash of the shell files; names the service worker's cache. */
  version: string;
}

/** Bundles the demo into `outDir` (default: a new temporary directory). */
export async function buildDemo(outDir?: string): Promise<BuiltDemo> {
  const dir = outDir ?? (await mkdtemp(join(tmpdir(), 'rxsync-demo-')));
  await mkdir(dir, { recursive: true });
  await build({
    entryPoints: [join(here, 'app.ts')],
    outfile: join(dir, 'app.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'linked',
    minify: false,
    logLevel: 'warning',
  });
  await copyFile(join(here, 'index.html'), join(dir, 'index.html'));
  await copyFile(join(here, 'app.css'), join(dir, 'app.css'));

  const hash = createHash('sha256');
  for (const file of SHELL_FILES) hash.update(await readFile(join(dir, file)));
  const version = hash.digest('hex').slice(0, 12);
  const worker = (await readFile(join(here, 'sw.js'), 'utf8'))
    .replace('__VERSION__', version)
    .replace('__SHELL__', JSON.stringify(['./', ...SHELL_FILES.map((file) => `./${file}`)]));
  await writeFile(join(dir, 'sw.js'), worker);
  return { dir, version };
}
