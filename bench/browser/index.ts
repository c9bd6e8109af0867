/**
 * Browser benchmark: rxsync against RxDB 17 (free Dexie storage + push replication) and
 * workbox-background-sync 7's Queue (in a service worker), in Debian's Chromium on real
 * IndexedDB, all against the reference sync server on loopback, answering at once.
 *
 *   npm run bench:browser -- [--quick] [--runs N] [--count N] [--only rxsync,rxsync-batch,rxdb,workbox,rxsync-c16,rxsync-c16-batch]
 *                            [--before <git-ref>] [--no-profile] [--profile-drain <variant>]
 *
 * Per library and run: a fresh on-disk Chromium profile; N writes offline, each awaited until
 * durable (serial phase), then drained to the server; then N more at once (burst phase), then
 * drained. Every phase is checked: nothing reaches the server while offline, every record
 * arrives with its final value, no request is refused. Figures are medians over the runs.
 * `--before main` adds rxsync rows whose outbox store is the one at `main`, in the same run.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs as parseCli } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startSyncServer, type SyncServer } from '../../server/index.js';
import { median, mixedWorkload, payloadBytes } from '../workload.js';
import { buildBench, bundleModules, type BuiltBench } from './build.js';
import type { BenchPage, LibraryName, PageConfig, Phase } from './protocol.js';
import { benchWrites, expectedRecords } from './workload.js';
import { summarizeProfile, type CpuProfile } from './profile.js';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** A phase that takes longer than this is stuck, not slow: the run fails instead of hanging. */
const CALL_TIMEOUT_MS = 20 * 60_000;
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Variant {
  id: string;
  label: string;
  library: LibraryName;
  batchSize?: number;
  concurrency?: number;
  page: keyof BuiltBench['pages'];
  /** Only with `--only`: a what-if, not a row of the table. */
  optIn?: boolean;
}

const VARIANTS: Variant[] = [
  { id: 'rxsync', label: 'rxsync, defaults (concurrency 4, no batch)', library: 'rxsync', page: 'current' },
  { id: 'rxsync-batch', label: 'rxsync, `batchSize: 100`', library: 'rxsync', batchSize: 100, page: 'current' },
  { id: 'rxdb', label: 'RxDB 17 (Dexie storage) + push replication, batches of 100', library: 'rxdb', page: 'current' },
  { id: 'workbox', label: 'workbox-background-sync 7 `Queue`', library: 'workbox', page: 'current' },
  { id: 'rxsync-c16', label: 'rxsync, `concurrency: 16`', library: 'rxsync', concurrency: 16, page: 'current', optIn: true },
  { id: 'rxsync-c16-batch', label: 'rxsync, `concurrency: 16, batchSize: 100`', library: 'rxsync', concurrency: 16, batchSize: 100, page: 'current', optIn: true },
];

interface Args {
  runs: number;
  count: number;
  only: string[];
  before?: string;
  profile: boolean;
  /** Profile this variant's drain after the serial phase instead (the drain alone). */
  profileDrain?: string;
}

function parseArgs(argv: string[]): Args {
  const { values } = parseCli({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      count: { type: 'string' },
      only: { type: 'string' },
      before: { type: 'string' },
      'no-profile': { type: 'boolean' },
      'profile-drain': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(`npm run bench:browser -- [--quick] [--runs N] [--count N] [--only ${VARIANTS.map((v) => v.id).join(',')}] [--before <git-ref>] [--no-profile] [--profile-drain <variant>]`);
    process.exit(0);
  }
  const positive = (v: string | undefined, name: string, otherwise: number) => {
    if (v === undefined) return otherwise;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean) ?? VARIANTS.filter((v) => !v.optIn).map((v) => v.id);
  for (const id of only) if (!VARIANTS.some((v) => v.id === id)) throw new Error(`unknown library "${id}"; use ${VARIANTS.map((v) => v.id).join(', ')}`);
  const profileDrain = values['profile-drain'];
  if (profileDrain !== undefined && !VARIANTS.some((v) => v.id === profileDrain && v.library === 'rxsync')) {
    throw new Error(`--profile-drain takes an rxsync variant: ${VARIANTS.filter((v) => v.library === 'rxsync').map((v) => v.id).join(', ')}`);
  }
  return {
    runs: positive(values.runs, '--runs', values.quick ? 1 : 3),
    count: positive(values.count, '--count', values.quick ? 1_000 : 10_000),
    only,
    before: values.before,
    profile: !values['no-profile'],
    profileDrain,
  };
}

// ── one run of one library ──────────────────────────────────────────────────────────────

interface RunFigures {
  serialMs: number;
  burstMs: number;
  serialDrainMs: number;
  burstDrainMs: number;
  serialDrainRequests: number;
  /**
   * How long this process's event loop was busy during the serial drain: the reference server
   * runs here (single-threaded), so this is the drain's server side.
   */
  serialDrainServerMs: number;
  burstDrainRequests: number;
  growthBytes: number;
  /** Data held in IndexedDB after the serial phase, beyond what was there before it (see `storedBytes`). */
  storedBytes: number;
}

/** Requests the server answered, per entity (first path segment), with their status. */
class RequestLog {
  private lines: { entity: string; status: number }[] = [];
  add(line: string): void {
    const match = /^\S+ \/([^/?\s]+)\S* (\d{3})/.exec(line);
    if (match) this.lines.push({ entity: match[1], status: Number(match[2]) });
  }
  mark(): number {
    return this.lines.length;
  }
  since(mark: number, entity: string): { count: number; refused: number; statuses: string } {
    const mine = this.lines.slice(mark).filter((l) => l.entity === entity || l.entity === '_batch');
    const refused = mine.filter((l) => l.status >= 300);
    return { count: mine.length, refused: refused.length, statuses: [...new Set(refused.map((l) => l.status))].join(', ') };
  }
}

async function directorySize(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
    const child = join(path, entry.name);
    total += entry.isDirectory() ? await directorySize(child) : (await stat(child).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** Every record of an entity, through the protocol's pull route. */
async function serverRecords(server: SyncServer, entity: string): Promise<Map<string, Record<string, unknown>>> {
  const records = new Map<string, Record<string, unknown>>();
  let since = '';
  for (;;) {
    const response = await fetch(`${server.url}/${entity}?limit=1000${since ? `&since=${since}` : ''}`);
    const page = (await response.json()) as { items: Record<string, unknown>[]; checkpoint: string; hasMore: boolean };
    for (const { version: _v, updatedAt: _u, ...record } of page.items) records.set(String(record.id), record);
    if (!page.hasMore) return records;
    since = page.checkpoint;
  }
}

async function verify(server: SyncServer, entity: string, count: number, prefix: string, what: string): Promise<void> {
  const expected = expectedRecords(benchWrites(count, prefix));
  const actual = await serverRecords(server, entity);
  if (actual.size !== expected.size) throw new Error(`${what}: the server holds ${actual.size} records, expected ${expected.size}`);
  for (const [id, record] of expected) {
    const got = actual.get(id);
    if (JSON.stringify(got, Object.keys(record).sort()) !== JSON.stringify(record, Object.keys(record).sort())) {
      throw new Error(`${what}: record ${id} is ${JSON.stringify(got)}, expected ${JSON.stringify(record)}`);
    }
  }
}

let entityCount = 0;

/**
 * Sends the server the kinds of requests the libraries will (single and batched creates), so the
 * first library of the first run does not pay for the server's JIT warm-up in its drain.
 */
async function warmUp(server: SyncServer): Promise<void> {
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.arrayBuffer());
  for (let b = 0; b < 20; b++) {
    const writes = benchWrites(100, `w${b}-`);
    await post('/_batch', writes.map((w, i) => ({ key: `warm-${b}-${i}`, method: 'PUT', path: `/warmup/${w.data.id}`, body: w.data })));
    await Promise.all(writes.slice(0, 20).map((w) => post('/warmup', { ...w.data, id: `${w.data.id}-single` })));
  }
}

/** Starts a CPU profile of the page; the function it returns stops it. */
type Profiler = (page: Page) => Promise<() => Promise<void>>;

async function runOnce(
  variant: Variant,
  built: BuiltBench,
  server: SyncServer,
  log: RequestLog,
  count: number,
  profiled?: { start: Profiler; scope: 'serial phase' | 'serial drain' },
): Promise<RunFigures> {
  const profileDir = await mkdtemp(join(tmpdir(), 'rxsync-bench-profile-'));
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}/${built.pages[variant.page]}`);
    await page.waitForFunction(() => 'benchPage' in window);
    const n = ++entityCount;
    const config: PageConfig = { library: variant.library, batchSize: variant.batchSize, concurrency: variant.concurrency, count, entities: { serial: `s${n}`, burst: `b${n}` } };
    const call = <K extends keyof BenchPage>(method: K, ...args: Parameters<BenchPage[K]>) => {
      const answer = page.evaluate(([m, a]) => (window as unknown as { benchPage: Record<string, (...x: unknown[]) => Promise<unknown>> }).benchPage[m](...a), [method, args] as const);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${variant.id}: ${method}(${args.join(', ')}) did not finish within ${CALL_TIMEOUT_MS / 60_000} minutes`)), CALL_TIMEOUT_MS);
      });
      return Promise.race([answer, timeout]).finally(() => clearTimeout(timer)) as ReturnType<BenchPage[K]>;
    };
    await call('setup', config);
    let stopProfile = profiled?.scope === 'serial phase' ? await profiled.start(page) : undefined;

    const idb = join(profileDir, 'Default', 'IndexedDB');
    const phase = async (name: Phase) => {
      const entity = config.entities[name];
      const before = name === 'serial' ? await directorySize(idb) : 0;
      const storedBefore = name === 'serial' ? await call('storedBytes') : 0;
      let mark = log.mark();
      const writeMs = await call('write', name, name === 'serial');
      const growth = name === 'serial' ? (await directorySize(idb)) - before : 0;
      const stored = name === 'serial' ? (await call('storedBytes')) - storedBefore : 0;
      const offline = log.since(mark, entity);
      if (offline.count > 0) throw new Error(`${variant.id} ${name}: ${offline.count} requests reached the server while offline`);
      mark = log.mark();
      if (name === 'serial' && profiled?.scope === 'serial drain') stopProfile = await profiled.start(page);
      const loop = performance.eventLoopUtilization();
      const drainMs = await call('drain', name);
      const serverMs = performance.eventLoopUtilization(loop).active;
      const sent = log.since(mark, entity);
      if (sent.refused > 0) throw new Error(`${variant.id} ${name}: the server refused ${sent.refused} requests (${sent.statuses})`);
      await verify(server, entity, count, name[0], `${variant.id} ${name}`);
      return { writeMs, drainMs, requests: sent.count, serverMs, growth, stored };
    };
    const serial = await phase('serial');
    await stopProfile?.();
    const burst = await phase('burst');
    if (errors.length > 0) throw new Error(`${variant.id}: page errors: ${errors.join('; ')}`);
    return {
      serialMs: serial.writeMs,
      burstMs: burst.writeMs,
      serialDrainMs: serial.drainMs,
      burstDrainMs: burst.drainMs,
      serialDrainRequests: serial.requests,
      serialDrainServerMs: serial.serverMs,
      burstDrainRequests: burst.requests,
      growthBytes: serial.growth,
      storedBytes: serial.stored,
    };
  } finally {
    await context?.close();
    await rm(profileDir, { recursive: true, force: true });
  }
}

// ── table ───────────────────────────────────────────────────────────────────────────────

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 1000).toFixed(2)} s`);
const requests = (n: number) => `${int(n)} request${n === 1 ? '' : 's'}`;
const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

function row(label: string, runs: RunFigures[], count: number): string {
  const m = (pick: (r: RunFigures) => number) => median(runs.map(pick));
  return `| ${label} | ${int(count / (m((r) => r.serialMs) / 1000))} | ${int(count / (m((r) => r.burstMs) / 1000))} | ${seconds(m((r) => r.serialDrainMs))} (${requests(m((r) => r.serialDrainRequests))}) | ${seconds(m((r) => r.burstDrainMs))} (${requests(m((r) => r.burstDrainRequests))}) | ${megabytes(m((r) => r.storedBytes))} | ${megabytes(m((r) => r.growthBytes))} |`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const variants = VARIANTS.filter((v) => args.only.includes(v.id));
  if (args.before) {
    for (const v of variants.filter((x) => x.library === 'rxsync').reverse()) {
      variants.splice(variants.indexOf(v) + 1, 0, { ...v, id: `${v.id}@${args.before}`, label: `${v.label}, outbox store at \`${args.before}\``, page: 'before' });
    }
  }
  const built = await buildBench(args.before);
  const log = new RequestLog();
  // No rate limit: its 429s (100 requests/s per caller by default) would make the drain of
  // single requests a measure of the limit, not of the libraries.
  const server = await startSyncServer({ port: 0, db: ':memory:', staticDir: built.dir, rateLimit: false, log: (line) => log.add(line) });
  await warmUp(server);
  const figures = new Map<string, RunFigures[]>(variants.map((v) => [v.id, []]));
  const failures = new Map<string, string>();
  const command = `npm run bench:browser -- ${process.argv.slice(2).join(' ')}`.trim();
  console.log(`rxsync browser benchmark: Chromium (${CHROMIUM_PATH}), ${cpus().length} CPUs, N = ${int(args.count)} writes per phase, ${args.runs} run(s)`);
  try {
    for (let run = 1; run <= args.runs; run++) {
      // Libraries take turns within each run, so background noise falls on all of them alike.
      for (const variant of variants) {
        const started = Date.now();
        try {
          const result = await runOnce(variant, built, server, log, args.count);
          figures.get(variant.id)!.push(result);
          console.log(
            `  run ${run}/${args.runs} ${variant.id}: ok in ${((Date.now() - started) / 1000).toFixed(0)} s (reference server busy ${seconds(result.serialDrainServerMs)} of the serial drain): ${row(variant.id, [result], args.count)}`,
          );
        } catch (error) {
          // A wrong result is a finding, not a figure: it is shown, the row says so, the exit code fails.
          failures.set(variant.id, error instanceof Error ? error.message : String(error));
          console.log(`  run ${run}/${args.runs} ${variant.id}: FAILED: ${failures.get(variant.id)}`);
          process.exitCode = 1;
        }
      }
    }
    const payload = Math.round(payloadBytes(mixedWorkload(args.count)) / args.count);
    console.log(`\nMedians of ${args.runs}; every run checked (nothing sent offline, every record once with its final value, no request refused).`);
    console.log(`Writes: ${int(args.count)} per phase, ~${payload} B each (JSON of entity, operation, data), half creates and half updates. Command: ${command}\n`);
    console.log('| library | serial durable w/s | burst w/s | drain after serial phase | drain after burst phase | IndexedDB data after serial phase | on-disk growth, serial (LevelDB files: noisy) |');
    console.log('|---|---|---|---|---|---|---|');
    for (const variant of variants) {
      const failure = failures.get(variant.id);
      console.log(failure ? `| ${variant.label} | FAILED: ${failure} | | | | | |` : row(variant.label, figures.get(variant.id)!, args.count));
    }

    const drainOf = args.profileDrain === undefined ? undefined : VARIANTS.find((v) => v.id === args.profileDrain);
    const profiled = drainOf ?? variants.find((v) => v.id === 'rxsync');
    if (args.profile && profiled) {
      const scope = drainOf ? 'serial drain' : 'serial phase';
      console.log(`\nCPU profile of ${profiled.label}, ${drainOf ? 'its drain after the serial phase' : 'serial phase and its drain'}, one more run:`);
      let profile: CpuProfile | undefined;
      const start: Profiler = async (page) => {
        const cdp = await page.context().newCDPSession(page);
        await cdp.send('Profiler.enable');
        await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
        await cdp.send('Profiler.start');
        return async () => {
          profile = (await cdp.send('Profiler.stop')).profile as CpuProfile;
        };
      };
      const figures = await runOnce(profiled, built, server, log, args.count, { start, scope });
      if (drainOf) {
        console.log(
          `(that run's drain after the serial phase: ${seconds(figures.serialDrainMs)}, ${requests(figures.serialDrainRequests)}; the reference server's event loop was busy ${seconds(figures.serialDrainServerMs)} of it)`,
        );
      }
      console.log(summarizeProfile(profile!, await bundleModules(join(built.dir, 'page.js'))));
    }
  } finally {
    await server.close();
    await rm(built.dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
