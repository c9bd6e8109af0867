/**
 * The published package, as a stranger gets it: `npm pack` (which builds dist/ in `prepack`),
 * the tarball installed into a new project outside the work tree next to only rxjs and
 * localforage, then used from Node, from TypeScript under two module resolutions, and from a
 * browser bundle. The install is offline: rxjs, localforage and what they depend on are packed
 * from this work tree's node_modules, so the test needs no network.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSyncServer } from '../../server/index.js';
import { CHECK_TS, RUN_MJS, tsconfig } from './consumer.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(root, 'node_modules', '.bin', 'tsc');

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** What `npm pack --json` says about one tarball. */
interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function readPackage(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Where Node would find `name` from `fromDir`: the nearest node_modules up the tree. */
function installedDir(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} is not installed under ${fromDir}; run npm ci first`);
  }
}

/** The installed directories of `names` and of everything they depend on, transitively. */
async function dependencyClosure(names: readonly string[], fromDir: string): Promise<string[]> {
  const found = new Map<string, string>();
  const visit = async (name: string, from: string): Promise<void> => {
    const dir = installedDir(name, from);
    if (found.has(dir)) return;
    found.set(dir, name);
    const pkg = await readPackage(dir);
    for (const dependency of Object.keys(pkg.dependencies ?? {})) await visit(dependency, dir);
  };
  for (const name of names) await visit(name, fromDir);
  return [...found.keys()];
}

describe('the npm package, installed from its tarball into a new project', () => {
  let work: string;
  let consumer: string;
  let packedFiles: string[];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'rxsync-package-'));
    const tarballs = join(work, 'tarballs');
    consumer = join(work, 'consumer');
    await mkdir(tarballs);
    await mkdir(consumer);
    // `npm pack` in a directory packs that package (running its prepack); with paths, those.
    const pack = async (cwd: string, dirs: readonly string[] = []): Promise<PackResult[]> => {
      const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', tarballs, ...dirs], { cwd });
      // A prepack script's own output (the build) comes before the JSON.
      return JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as PackResult[];
    };

    const [packed] = await pack(root);
    packedFiles = packed!.files.map((file) => file.path);

    const self = await readPackage(root);
    const wanted = ['rxjs', 'localforage'];
    // Optional peers (eventsource, for eventSourcePoke in Node) are left out, as a consumer may.
    const optional = Object.keys(self.peerDependenciesMeta ?? {}).filter((name) => self.peerDependenciesMeta![name].optional);
    expect(optional).toEqual(['eventsource']);
    const requirements = { ...self.dependencies, ...self.peerDependencies };
    expect(Object.keys(requirements).filter((name) => !optional.includes(name)).sort()).toEqual([...wanted].sort());
    const dependencies = await dependencyClosure(wanted, root);
    const packedDependencies = await pack(work, dependencies);

    await writeFile(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const install = [packed!, ...packedDependencies].map((tarball) => join(tarballs, tarball.filename));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...install], { cwd: consumer });
    await writeFile(join(consumer, 'run.mjs'), RUN_MJS);
    await writeFile(join(consumer, 'check.ts'), CHECK_TS);
  }, 180_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ships the built code and the types of both entry points, and nothing else', () => {
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/operators/index.js', 'dist/operators/index.d.ts']) {
      expect(packedFiles).toContain(file);
    }
    const outside = packedFiles.filter((file) => !/^(dist\/|operators\/package\.json$|package\.json$|README\.md$|LICENSE)/.test(file));
    expect(outside).toEqual([]);
  });

  it('Node imports rxsync and rxsync/operators and flushes a write to the reference server', async () => {
    const server = await startSyncServer({ port: 0, db: ':memory:' });
    try {
      const { stdout } = await run(process.execPath, ['run.mjs', server.url], { cwd: consumer });
      const outcome = JSON.parse(stdout) as { flushed: { success: boolean; pushed: number }; pulled: { id: string; title: string }[]; pokeError: string };
      expect(outcome.flushed).toMatchObject({ success: true, pushed: 1 });
      // Node 20 has no EventSource and the optional eventsource package is not installed here.
      expect(outcome.pokeError).toMatch(/^\[rxsync\] eventSourcePoke needs an EventSource: .*npm install eventsource@4/);
      expect(outcome.pulled).toContainEqual(expect.objectContaining({ id: 'from-the-tarball', title: 'installed' }));
    } finally {
      await server.close();
    }
  }, 60_000);

  it.each(['bundler', 'nodenext'] as const)('tsc --strict resolves the types of both entry points (moduleResolution %s)', async (resolution) => {
    const project = `tsconfig.${resolution}.json`;
    await writeFile(join(consumer, project), tsconfig(resolution));
    const result = await run(tsc, ['-p', project], { cwd: consumer }).then(
      () => '',
      (error: { stdout?: string; message: string }) => error.stdout || error.message,
    );
    expect(result).toBe('');
  }, 60_000);

  it('esbuild bundles it for the browser without a warning', async () => {
    const result = await build({
      entryPoints: [join(consumer, 'check.ts')],
      absWorkingDir: consumer,
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.outputFiles[0]!.text).toContain('[rxsync]');
  }, 60_000);
});
