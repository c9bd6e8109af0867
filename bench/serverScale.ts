/**
 * Scale figures of the reference server with real rxsync engines (`createSyncEngine` +
 * `httpTransport`, batchSize 50, so writes go through `POST /_batch`):
 *   - sqlite: one server process, SQLite in memory;
 *   - pg1: one server process on PostgreSQL;
 *   - pg2: two server processes on one PostgreSQL, the engines alternating between them.
 * Each server is a child process (`server/main.ts`, rate limit off); PostgreSQL is a throwaway
 * cluster started here (needs Debian's postgresql). Figures:
 *   - burst: every engine queues `--writes` creates offline, then all go online at once: pushes/s
 *     until every write is acknowledged, and p50/p99 of each write request's round trip (which
 *     includes waiting behind the other engines' batches);
 *   - paced: the engines write `--rate` creates/s between them, spread evenly, for `--seconds`:
 *     writes/s achieved and p50/p99 of each write request's round trip at that load;
 *   - pulled rows/s: every engine pulls every row.
 *
 * Run: npm run bench:server [-- --quick] [--engines 50] [--writes 200] [--rate 2000] [--seconds 5] [--only sqlite,pg1,pg2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BehaviorSubject } from 'rxjs';
import { createSyncEngine, httpTransport, type SyncEngine } from '../src/index.js';
import { startPostgresCluster, type PostgresCluster } from '../test/server/postgresCluster.js';
import { createCountingStore } from './countingDriver.js';
import { createsWorkload } from './workload.js';

const CONFIGS = ['sqlite', 'pg1', 'pg2'] as const;
type Config = (typeof CONFIGS)[number];

function parseArgs(argv: string[]) {
  const args = { quick: false, engines: 50, writes: 200, rate: 2000, seconds: 5, only: [...CONFIGS] as Config[] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') {
      args.quick = true;
      args.writes = 40;
      args.seconds = 2;
    } else if (arg === '--rate') args.rate = Number(argv[++i]);
    else if (arg === '--seconds') args.seconds = Number(argv[++i]);
    else if (arg === '--engines') args.engines = Number(argv[++i]);
    else if (arg === '--writes') args.writes = Number(argv[++i]);
    else if (arg === '--only') args.only = argv[++i].split(',') as Config[];
    else throw new Error(`unknown argument "${arg}"; use --quick, --engines N, --writes N, --rate N, --seconds N, --only ${CONFIGS.join(',')}`);
  }
  for (const config of args.only) if (!CONFIGS.includes(config)) throw new Error(`unknown config "${config}"`);
  if (!(args.engines >= 1 && args.writes >= 1 && args.rate > 0 && args.seconds > 0)) throw new Error('--engines, --writes, --rate and --seconds must be positive');
  return args;
}

const args = parseArgs(process.argv.slice(2));
const root = fileURLToPath(new URL('..', import.meta.url));

interface ServerProcess {
  url: string;
  stop(): Promise<void>;
}

/** Starts `server/main.ts` on a random loopback port and resolves with its URL. */
function startServerProcess(db: string): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--port', '0', '--quiet', '--rate-limit', 'off', '--db', db], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve({ url: match[1], stop: () => (child.kill('SIGTERM'), exited) });
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
  });
}

/** Times every write request's round trip (to the answer's headers): `/_batch`, or a single write when only one item is ready. */
const ackLatencies: number[] = [];
const originalFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const started = performance.now();
  const response = await originalFetch(input, init);
  if (init?.method !== undefined && init.method !== 'GET') ackLatencies.push(performance.now() - started);
  return response;
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

interface Figures {
  pushesPerSec: number;
  p50: number;
  p99: number;
  pacedPerSec: number;
  pacedP50: number;
  pacedP99: number;
  pulledRowsPerSec: number;
}

async function measure(urls: string[]): Promise<Figures> {
  const online$ = new BehaviorSubject(false);
  let pulledRows = 0;
  const engines: SyncEngine<'todos'>[] = [];
  for (let n = 0; n < args.engines; n++) {
    const store = await createCountingStore();
    const engine = createSyncEngine<'todos'>({
      entities: { todos: { endpoint: '/todos' } },
      transport: httpTransport({ baseUrl: urls[n % urls.length] }),
      storage: store.storage,
      online$,
      batchSize: 50,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 500,
      onPull: (_entity, items) => {
        pulledRows += items.length;
      },
    });
    await engine.ready;
    for (const write of createsWorkload(args.writes, `e${n}-`)) void engine.write(write);
    engines.push(engine);
  }
  const total = args.engines * args.writes;
  ackLatencies.length = 0;
  const pushStart = performance.now();
  online$.next(true);
  const pushed = await Promise.all(engines.map((engine) => engine.flush()));
  const pushSeconds = (performance.now() - pushStart) / 1000;
  const delivered = pushed.reduce((sum, result) => sum + result.pushed, 0);
  if (delivered !== total || pushed.some((result) => !result.success)) throw new Error(`only ${delivered}/${total} writes were acknowledged`);
  const latencies = [...ackLatencies];

  // Paced: each engine writes every `interval` ms, the engines' timers staggered.
  ackLatencies.length = 0;
  const interval = (1000 * args.engines) / args.rate;
  let paced = 0;
  const pacedStart = performance.now();
  await Promise.all(
    engines.map(
      (engine, n) =>
        new Promise<void>((resolve) => {
          let written = 0;
          const perEngine = Math.round((args.rate * args.seconds) / args.engines);
          const tick = () => {
            void engine.write({ entity: 'todos', operation: 'create', data: { id: `p${n}-${written}`, title: 'paced', done: false } });
            paced++;
            if (++written >= perEngine) resolve();
            else setTimeout(tick, Math.max(0, pacedStart + (n / args.engines) * interval + written * interval - performance.now()));
          };
          setTimeout(tick, (n / args.engines) * interval);
        }),
    ),
  );
  await Promise.all(engines.map((engine) => engine.flush()));
  const pacedSeconds = (performance.now() - pacedStart) / 1000;
  const pacedLatencies = [...ackLatencies];

  const pullStart = performance.now();
  await Promise.all(engines.map((engine) => engine.pull()));
  const pullSeconds = (performance.now() - pullStart) / 1000;
  const rows = total + paced;
  if (pulledRows !== rows * args.engines) throw new Error(`pulled ${pulledRows} rows, expected ${rows * args.engines}`);
  for (const engine of engines) engine.destroy();
  return {
    pushesPerSec: total / pushSeconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    pacedPerSec: paced / pacedSeconds,
    pacedP50: percentile(pacedLatencies, 50),
    pacedP99: percentile(pacedLatencies, 99),
    pulledRowsPerSec: pulledRows / pullSeconds,
  };
}

async function createDatabase(cluster: PostgresCluster, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

const rows: string[][] = [];
let cluster: PostgresCluster | undefined;
try {
  for (const config of args.only) {
    process.stderr.write(`  … ${config}: ${args.engines} engines × ${args.writes} writes\n`);
    let db = ':memory:';
    if (config !== 'sqlite') {
      cluster ??= await startPostgresCluster();
      db = await createDatabase(cluster, `bench_${config}`);
    }
    const servers = await Promise.all(Array.from({ length: config === 'pg2' ? 2 : 1 }, () => startServerProcess(db)));
    try {
      const figures = await measure(servers.map((server) => server.url));
      const name = { sqlite: 'SQLite, 1 process', pg1: 'PostgreSQL, 1 process', pg2: 'PostgreSQL, 2 processes' }[config];
      rows.push([
        name,
        Math.round(figures.pushesPerSec).toLocaleString('en-US'),
        figures.p50.toFixed(1),
        figures.p99.toFixed(1),
        Math.round(figures.pacedPerSec).toLocaleString('en-US'),
        figures.pacedP50.toFixed(1),
        figures.pacedP99.toFixed(1),
        Math.round(figures.pulledRowsPerSec).toLocaleString('en-US'),
      ]);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  }
} finally {
  cluster?.stop();
}

const header = ['store', 'burst pushes/s', 'burst ack p50 ms', 'burst ack p99 ms', 'paced writes/s', 'paced ack p50 ms', 'paced ack p99 ms', 'pulled rows/s'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells: string[]) => `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
const again = ['npm run bench:server --', `--engines ${args.engines}`, `--writes ${args.writes}`, `--rate ${args.rate}`, `--seconds ${args.seconds}`, `--only ${args.only.join(',')}`].join(' ');
console.log(
  `\n${args.engines} rxsync engines (batchSize 50): a burst of ${args.writes} queued creates each, then ${args.rate} creates/s offered for ${args.seconds} s; reproduce with: ${again}`,
);
