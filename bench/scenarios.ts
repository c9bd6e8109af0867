/**
 * The measurements. Each one builds a real engine (`createSyncEngine` + `httpTransport` from
 * src/index.ts) on a real localforage instance running on the counting driver.
 */
import { performance } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { BehaviorSubject } from 'rxjs';
import { build } from 'esbuild';
import { createSyncEngine, httpTransport, type SyncEngine, type SyncEngineOptions, type SyncStorage, type SyncWrite } from '../src/index.js';
import { createCountingStore, totalOps } from './countingDriver.js';
import type { BenchServer } from './server.js';
import { createsWorkload, mixedWorkload, payloadBytes } from './workload.js';

type Entities = 'todos';

/** Nothing listens there: enqueue benches stay offline and never send. */
const NOWHERE = 'http://127.0.0.1:9';

function engineOn(storage: SyncStorage, online$: BehaviorSubject<boolean>, extra: Partial<SyncEngineOptions<Entities>> & Record<string, unknown> = {}, baseUrl = NOWHERE): SyncEngine<Entities> {
  return createSyncEngine<Entities>({
    entities: { todos: { endpoint: '/todos' } },
    transport: httpTransport({ baseUrl }),
    storage,
    online$,
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 500,
    // The push path is what is measured here.
    autoPull: false,
    ...extra,
  } as SyncEngineOptions<Entities>);
}

async function writeAll(engine: SyncEngine<Entities>, writes: readonly SyncWrite<Entities>[], pattern: 'burst' | 'serial'): Promise<void> {
  if (pattern === 'burst') {
    const pending: Promise<unknown>[] = new Array(writes.length);
    for (let i = 0; i < writes.length; i++) pending[i] = engine.write(writes[i]);
    await Promise.all(pending);
  } else {
    for (const write of writes) await engine.write(write);
  }
}

// ── 1 + 2: enqueue throughput and write amplification ──────────────────────────────────────

export interface EnqueueFigures {
  writesPerSec: number;
  /**
   * CPU time (user + system, all threads) per write, in µs. On a shared machine wall-clock
   * throughput swings with the neighbours' load; the CPU a write costs barely does.
   */
  cpuMicrosPerWrite: number;
  opsPerWrite: number;
  amplification: number;
  setItems: number;
  bytesWritten: number;
  payloadBytes: number;
  queued: number;
}

/** `watched`: a `queue$` subscriber is attached, as every UI that shows the queue has one. */
export async function measureEnqueue(count: number, pattern: 'burst' | 'serial', watched = false): Promise<EnqueueFigures> {
  const store = await createCountingStore();
  const online$ = new BehaviorSubject(false);
  const engine = engineOn(store.storage, online$);
  await engine.ready;
  const watcher = watched ? engine.queue$.subscribe() : undefined;
  const writes = mixedWorkload(count);
  const payload = payloadBytes(writes);
  store.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await writeAll(engine, writes, pattern);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const c = { ...store.counters };
  const queued = engine.getQueueLength();
  watcher?.unsubscribe();
  engine.destroy();
  store.drop();
  return {
    writesPerSec: count / (ms / 1000),
    cpuMicrosPerWrite: (cpu.user + cpu.system) / count,
    opsPerWrite: totalOps(c) / count,
    amplification: c.bytesWritten / payload,
    setItems: c.setItem,
    bytesWritten: c.bytesWritten,
    payloadBytes: payload,
    queued,
  };
}

// ── 3: flush throughput against the in-process server ──────────────────────────────────────

export interface FlushFigures {
  itemsPerSec: number;
  ms: number;
  requests: number;
  batchRequests: number;
  pushed: number;
}

export async function measureFlush(
  server: BenchServer,
  count: number,
  options: { concurrency?: number; batchSize?: number },
  timeoutMs = 120_000,
): Promise<FlushFigures> {
  server.reset();
  const store = await createCountingStore();
  const online$ = new BehaviorSubject(false);
  const extra: Record<string, unknown> = {};
  if (options.concurrency !== undefined) extra.concurrency = options.concurrency;
  if (options.batchSize !== undefined) extra.batchSize = options.batchSize;
  const engine = engineOn(store.storage, online$, extra, server.url);
  try {
    await engine.ready;
    await writeAll(engine, createsWorkload(count), 'burst');
    const t0 = performance.now();
    online$.next(true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`flush of ${count} items did not finish in ${timeoutMs} ms`)), timeoutMs);
    });
    const result = await Promise.race([engine.flush(), timeout]).finally(() => clearTimeout(timer));
    const ms = performance.now() - t0;
    if (!result.success || server.stats.applied !== count) {
      throw new Error(
        `flush did not deliver everything: success=${result.success} pushed=${result.pushed} errors=${result.errors}, server applied ${server.stats.applied}/${count}`,
      );
    }
    return {
      itemsPerSec: count / (ms / 1000),
      ms,
      requests: server.stats.requests,
      batchRequests: server.stats.batchRequests,
      pushed: result.pushed,
    };
  } finally {
    engine.destroy();
    store.drop();
  }
}

/**
 * Whether the engine batches: a small flush with `batchSize` set must send something to
 * `/_batch`. An engine without the option ignores it and sends single requests.
 */
export async function engineBatches(server: BenchServer, batchSize: number): Promise<boolean> {
  const figures = await measureFlush(server, Math.max(2 * batchSize, 100), { batchSize }, 60_000);
  return figures.batchRequests > 0;
}

// ── 4: loading a persisted queue, memory per item; scaling of enqueue ─────────────────────

let gcFn: (() => void) | undefined;

/** `global.gc`, exposed at run time if node was not started with --expose-gc. */
export function gc(): () => void {
  if (gcFn) return gcFn;
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return (gcFn = existing);
  setFlagsFromString('--expose-gc');
  gcFn = runInNewContext('gc') as () => void;
  return gcFn;
}

function heapUsed(): number {
  const collect = gc();
  collect();
  collect();
  return process.memoryUsage().heapUsed;
}

export interface LoadFigures {
  loadMs: number;
  bytesPerItem: number;
  storedBytes: number;
  queued: number;
  /** Per-write enqueue cost in µs onto this full queue. */
  fullSerialUs: number;
  fullBurstUs: number;
}

/**
 * Persists `count` items offline, opens the same storage from a new localforage instance and a
 * new engine, and times `await engine.ready`; then measures the engine's heap per item, and the
 * per-write cost of `scalingWrites` more writes onto that full queue.
 */
export async function measureLoad(count: number, scalingWrites: number): Promise<LoadFigures> {
  const name = `bench-load-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  {
    const writer = await createCountingStore(name);
    const online$ = new BehaviorSubject(false);
    const engine = engineOn(writer.storage, online$);
    await engine.ready;
    await writeAll(engine, createsWorkload(count, 'L'), 'burst');
    engine.destroy();
  }
  const store = await createCountingStore(name);
  const online$ = new BehaviorSubject(false);
  const storedBytes = store.footprint().bytes;
  const before = heapUsed();
  const t0 = performance.now();
  const engine = engineOn(store.storage, online$);
  await engine.ready;
  const loadMs = performance.now() - t0;
  const after = heapUsed();
  const queued = engine.getQueueLength();
  if (queued !== count) throw new Error(`loaded ${queued} items, expected ${count}`);

  const full = await measureScalingOn(engine, scalingWrites, 'F');
  engine.destroy();
  store.drop();
  return { loadMs, bytesPerItem: (after - before) / count, storedBytes, queued, fullSerialUs: full.serialUs, fullBurstUs: full.burstUs };
}

/** Per-write cost (µs) of `n` serial writes, then `n` burst writes, of new records onto `engine`. */
async function measureScalingOn(engine: SyncEngine<Entities>, n: number, prefix: string): Promise<{ serialUs: number; burstUs: number }> {
  const serial = createsWorkload(n, `${prefix}s`);
  const burst = createsWorkload(n, `${prefix}b`);
  let t0 = performance.now();
  await writeAll(engine, serial, 'serial');
  const serialUs = ((performance.now() - t0) * 1000) / n;
  t0 = performance.now();
  await writeAll(engine, burst, 'burst');
  const burstUs = ((performance.now() - t0) * 1000) / n;
  return { serialUs, burstUs };
}

/** The queue the scaling check compares the full one with. */
export const SMALL_QUEUE = 1_000;

/** The same `n` writes onto a queue of {@link SMALL_QUEUE} items. */
export async function measureScalingEmpty(n: number): Promise<{ serialUs: number; burstUs: number }> {
  const store = await createCountingStore();
  const online$ = new BehaviorSubject(false);
  const engine = engineOn(store.storage, online$);
  await engine.ready;
  await writeAll(engine, createsWorkload(SMALL_QUEUE, 'S'), 'burst');
  const figures = await measureScalingOn(engine, n, 'E');
  engine.destroy();
  store.drop();
  return figures;
}

// ── 5: bundle size ──────────────────────────────────────────────────────────────────────

export interface BundleFigures {
  minBytes: number;
  gzipBytes: number;
  /** Minified bytes each source file adds, largest first. */
  modules: { path: string; bytes: number }[];
}

/**
 * Min+gz size of what an app ships: `entry` whole, or with `names` only what importing those
 * names from it pulls in (tree-shaken, as an app's bundler would). rxjs, localforage and the
 * optional eventsource are the app's own dependencies, left out.
 */
export async function measureBundle(entry: 'src/index.ts' | 'src/operators/index.ts', names?: readonly string[]): Promise<BundleFigures> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const input = names
    ? { stdin: { contents: `export { ${names.join(', ')} } from './${entry}';`, resolveDir: root, loader: 'ts' as const, sourcefile: 'app.ts' } }
    : { entryPoints: [`${root}${entry}`] };
  const result = await build({
    ...input,
    bundle: true,
    minify: true,
    format: 'esm',
    external: ['rxjs', 'rxjs/*', 'localforage', 'eventsource'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const [output] = Object.values(result.metafile.outputs);
  const modules = Object.entries(output.inputs)
    .map(([path, { bytesInOutput }]) => ({ path: path.replace(/^.*?src\//, 'src/'), bytes: bytesInOutput }))
    .sort((a, b) => b.bytes - a.bytes);
  return { minBytes: code.length, gzipBytes: gzipSync(code).length, modules };
}
