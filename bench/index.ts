/**
 * rxsync benchmark (issue 4). Run: `npx tsx bench/index.ts [--runs N] [--quick] [--only sections] [--latency ms]`
 *
 * Sections: enqueue (throughput + storage ops + write amplification), flush (items/s against an
 * in-process server with latency), load (time to load a persisted queue, heap per item),
 * scaling (per-write cost on a 1,000 vs a 100,000 item queue), bundle (min+gz size). Every figure is
 * the median of --runs runs, printed next to its target and the command that reproduces it.
 */
import { cpus, platform, release } from 'node:os';
import { engineBatches, measureBundle, measureEnqueue, measureFlush, measureLoad, measureScalingEmpty, SMALL_QUEUE } from './scenarios.js';
import { startBenchServer } from './server.js';
import { median } from './workload.js';

const SECTIONS = ['enqueue', 'flush', 'load', 'scaling', 'bundle'] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  runs: number;
  quick: boolean;
  only: Section[];
  latencyMs: number;
  runsGiven: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { runs: 3, quick: false, only: [...SECTIONS], latencyMs: 20, runsGiven: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') args.quick = true;
    else if (arg.startsWith('--runs')) {
      args.runs = Number(value());
      args.runsGiven = true;
      if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs must be a positive integer');
    } else if (arg.startsWith('--only')) {
      const wanted = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const s of wanted) if (!SECTIONS.includes(s as Section)) throw new Error(`unknown section "${s}"; use ${SECTIONS.join(', ')}`);
      args.only = wanted as Section[];
    } else if (arg.startsWith('--latency')) {
      args.latencyMs = Number(value());
    } else if (arg === '--help' || arg === '-h') {
      console.log('npx tsx bench/index.ts [--runs N (default 3)] [--quick] [--only enqueue,flush,load,scaling,bundle] [--latency ms (default 20)]');
      process.exit(0);
    } else throw new Error(`unknown argument "${arg}"`);
  }
  if (args.quick && !args.runsGiven) args.runs = 1;
  return args;
}

const args = parseArgs(process.argv.slice(2));

const counts = args.quick
  ? { enqueue: 2_000, flushSeq: 20, flushC4: 100, flushC16: 200, flushBatched: 500, load: 10_000, scaling: 200 }
  : { enqueue: 20_000, flushSeq: 500, flushC4: 2_000, flushC16: 5_000, flushBatched: 10_000, load: 100_000, scaling: 5_000 };
const BATCH_SIZE = 50;

// ── table ────────────────────────────────────────────────────────────────────────────

interface Target {
  op: '>=' | '<=' | '<';
  value: number;
  text: string;
}

interface Row {
  figure: string;
  value: string;
  target: string;
  ok: string;
  command: string;
  runs: string;
}

const rows: Row[] = [];
let failed = false;

function command(section: Section): string {
  const parts = ['npx tsx bench/index.ts', `--only ${section}`];
  if (args.quick) parts.push('--quick');
  if (args.runsGiven || !args.quick) parts.push(`--runs ${args.runs}`);
  if (section === 'flush' && args.latencyMs !== 20) parts.push(`--latency ${args.latencyMs}`);
  return parts.join(' ');
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmt = (n: number, digits: number): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function addRow(section: Section, figure: string, values: number[], format: (n: number) => string, target?: Target): void {
  const m = median(values);
  const ok = !target
    ? ''
    : (target.op === '>=' ? m >= target.value : target.op === '<=' ? m <= target.value : m < target.value)
      ? '✓'
      : '✗';
  rows.push({
    figure,
    value: format(m),
    target: target?.text ?? '—',
    ok,
    command: command(section),
    runs: values.length > 1 ? values.map(format).join(' / ') : '',
  });
}

function addText(section: Section, figure: string, value: string, target = '—', ok = ''): void {
  rows.push({ figure, value, target, ok, command: command(section), runs: '' });
}

function printTable(): void {
  const header: Row = { figure: 'figure', value: 'median', target: 'target', ok: '', command: 'reproduce with', runs: 'runs' };
  const all = [header, ...rows];
  const width = (key: keyof Row): number => Math.max(...all.map((r) => [...r[key]].length));
  const pad = (s: string, n: number, right = false): string => (right ? s.padStart(n + s.length - [...s].length) : s.padEnd(n + s.length - [...s].length));
  const w = { figure: width('figure'), value: width('value'), target: width('target'), ok: 1, command: width('command'), runs: width('runs') };
  const line = (r: Row): string =>
    `| ${pad(r.figure, w.figure)} | ${pad(r.value, w.value, true)} | ${pad(r.target, w.target)} | ${pad(r.ok, w.ok)} | ${pad(r.command, w.command)} | ${pad(r.runs, w.runs)} |`;
  const rule = `|${'-'.repeat(w.figure + 2)}|${'-'.repeat(w.value + 2)}|${'-'.repeat(w.target + 2)}|${'-'.repeat(w.ok + 2)}|${'-'.repeat(w.command + 2)}|${'-'.repeat(w.runs + 2)}|`;
  console.log(line(header));
  console.log(rule);
  for (const r of rows) console.log(line(r));
}

function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}

// ── sections ─────────────────────────────────────────────────────────────────────────

async function runEnqueue(): Promise<void> {
  const n = counts.enqueue;
  progress(`enqueue: warm-up`);
  await measureEnqueue(Math.min(n, 5_000), 'burst');
  await measureEnqueue(Math.min(n, 5_000), 'serial');
  const burst = [];
  const serial = [];
  const watched = [];
  for (let r = 0; r < args.runs; r++) {
    progress(`enqueue: run ${r + 1}/${args.runs}`);
    burst.push(await measureEnqueue(n, 'burst'));
    serial.push(await measureEnqueue(n, 'serial'));
    watched.push(await measureEnqueue(n, 'burst', true));
  }
  const label = `${fmtInt(n)} writes, 50% updates`;
  addRow('enqueue', `1. enqueue burst (${label}), writes/s`, burst.map((f) => f.writesPerSec), fmtInt, { op: '>=', value: 200_000, text: '≥ 200,000' });
  addRow('enqueue', `1. enqueue burst with a queue$ subscriber (${label}), writes/s`, watched.map((f) => f.writesPerSec), fmtInt);
  addRow('enqueue', `1. enqueue serial awaited (${label}), writes/s`, serial.map((f) => f.writesPerSec), fmtInt, { op: '>=', value: 20_000, text: '≥ 20,000' });
  const cpu = (v: number): string => `${fmt(v, 1)} µs`;
  addRow('enqueue', '1. CPU per write, burst (user + system; steadier than writes/s on a shared machine)', burst.map((f) => f.cpuMicrosPerWrite), cpu);
  addRow('enqueue', '1. CPU per write, serial awaited', serial.map((f) => f.cpuMicrosPerWrite), cpu);
  addRow('enqueue', '2. storage ops per write, burst', burst.map((f) => f.opsPerWrite), (v) => fmt(v, 4), { op: '<=', value: 0.05, text: '≤ 0.05' });
  addRow('enqueue', '2. storage ops per write, serial', serial.map((f) => f.opsPerWrite), (v) => fmt(v, 3));
  addRow('enqueue', '2. write amplification (bytes written ÷ payload), burst', burst.map((f) => f.amplification), (v) => `${fmt(v, 2)}×`, { op: '<=', value: 4, text: '≤ 4×' });
  addRow('enqueue', '2. write amplification (bytes written ÷ payload), serial', serial.map((f) => f.amplification), (v) => `${fmt(v, 2)}×`, { op: '<=', value: 4, text: '≤ 4×' });
  const last = serial[serial.length - 1];
  progress(
    `enqueue: serial payload ${fmtInt(last.payloadBytes)} B, written ${fmtInt(last.bytesWritten)} B in ${fmtInt(last.setItems)} setItem; burst written ${fmtInt(burst[burst.length - 1].bytesWritten)} B in ${burst[burst.length - 1].setItems} setItem; ${fmtInt(last.queued)} items queued`,
  );
}

async function runFlush(): Promise<void> {
  const server = await startBenchServer({ latencyMs: args.latencyMs });
  const at = `${args.latencyMs} ms`;
  try {
    progress('flush: warm-up');
    await measureFlush(server, 50, { concurrency: 4 });
    const rowsToRun: { label: string; n: number; options: { concurrency?: number; batchSize?: number }; target?: Target }[] = [
      { label: `3. flush sequential (concurrency 1, ${fmtInt(counts.flushSeq)} items @ ${at}), items/s`, n: counts.flushSeq, options: { concurrency: 1 } },
      { label: `3. flush concurrent (default 4, ${fmtInt(counts.flushC4)} items @ ${at}), items/s`, n: counts.flushC4, options: {}, target: { op: '>=', value: 150, text: '≥ 150' } },
      { label: `3. flush concurrent (concurrency 16, ${fmtInt(counts.flushC16)} items @ ${at}), items/s`, n: counts.flushC16, options: { concurrency: 16 }, target: { op: '>=', value: 150, text: '≥ 150' } },
    ];
    for (const row of rowsToRun) {
      const values: number[] = [];
      for (let r = 0; r < args.runs; r++) {
        progress(`flush: ${row.label.replace(/^3\. /, '')} run ${r + 1}/${args.runs}`);
        values.push((await measureFlush(server, row.n, row.options)).itemsPerSec);
      }
      addRow('flush', row.label, values, fmtInt, row.target);
    }
    const batchedLabel = `3. flush batched (batchSize ${BATCH_SIZE}, ${fmtInt(counts.flushBatched)} items @ ${at}), items/s`;
    const batchedTarget: Target = { op: '>=', value: 2_000, text: '≥ 2,000' };
    progress('flush: does the engine batch?');
    if (!(await engineBatches(server, BATCH_SIZE))) {
      addText('flush', batchedLabel, 'n/a (engine has no batchSize yet)', batchedTarget.text);
    } else {
      const values: number[] = [];
      for (let r = 0; r < args.runs; r++) {
        progress(`flush: batched run ${r + 1}/${args.runs}`);
        values.push((await measureFlush(server, counts.flushBatched, { batchSize: BATCH_SIZE })).itemsPerSec);
      }
      addRow('flush', batchedLabel, values, fmtInt, batchedTarget);
    }
  } finally {
    await server.close();
  }
}

async function runLoad(withScaling: boolean, withLoad: boolean): Promise<void> {
  const loadMs: number[] = [];
  const perItem: number[] = [];
  const emptySerial: number[] = [];
  const emptyBurst: number[] = [];
  const fullSerial: number[] = [];
  const fullBurst: number[] = [];
  if (withScaling) {
    progress('scaling: warm-up');
    await measureScalingEmpty(counts.scaling);
  }
  for (let r = 0; r < args.runs; r++) {
    if (withScaling) {
      progress(`scaling: small queue run ${r + 1}/${args.runs}`);
      const empty = await measureScalingEmpty(counts.scaling);
      emptySerial.push(empty.serialUs);
      emptyBurst.push(empty.burstUs);
    }
    progress(`load: ${fmtInt(counts.load)} items run ${r + 1}/${args.runs}`);
    const load = await measureLoad(counts.load, counts.scaling);
    loadMs.push(load.loadMs);
    perItem.push(load.bytesPerItem);
    fullSerial.push(load.fullSerialUs);
    fullBurst.push(load.fullBurstUs);
    if (r === 0) progress(`load: ${fmtInt(load.storedBytes)} B stored for ${fmtInt(load.queued)} items`);
  }
  if (withLoad) {
    addRow('load', `4. load persisted queue of ${fmtInt(counts.load)} items (await engine.ready), ms`, loadMs, fmtInt);
    addRow('load', `4. heap per queued item (heapUsed delta ÷ ${fmtInt(counts.load)}), bytes`, perItem, fmtInt);
  }
  if (withScaling) {
    const n = fmtInt(counts.scaling);
    const full = fmtInt(counts.load);
    const small = fmtInt(SMALL_QUEUE);
    const us = (v: number): string => `${fmt(v, 1)} µs`;
    addRow('scaling', `6. serial write cost, ${n} writes onto ${small} queued, per write`, emptySerial, us);
    addRow('scaling', `6. serial write cost, ${n} writes onto ${full} queued, per write`, fullSerial, us);
    const serialRatios = fullSerial.map((v, i) => v / emptySerial[i]);
    addRow('scaling', `6. serial scaling ratio (${full} ÷ ${small})`, serialRatios, (v) => `${fmt(v, 2)}×`, { op: '<', value: 2, text: '< 2×' });
    addRow('scaling', `6. burst write cost, ${n} writes onto ${small} queued, per write`, emptyBurst, us);
    addRow('scaling', `6. burst write cost, ${n} writes onto ${full} queued, per write`, fullBurst, us);
    const burstRatios = fullBurst.map((v, i) => v / emptyBurst[i]);
    addRow('scaling', `6. burst scaling ratio (${full} ÷ ${small})`, burstRatios, (v) => `${fmt(v, 2)}×`, { op: '<', value: 2, text: '< 2×' });
  }
}

async function runBundle(): Promise<void> {
  const typical = await measureBundle('src/index.ts', TYPICAL_IMPORT);
  const core = await measureBundle('src/index.ts');
  const operators = await measureBundle('src/operators/index.ts');
  const kb = (b: number): string => `${fmt(b / 1024, 2)} KB`;
  const target = (gzip: number): [string, string] => ['≤ 12 KB', gzip <= 12 * 1024 ? '✓' : '✗'];
  addText('bundle', `5. rxsync as an app imports it ({ ${TYPICAL_IMPORT.join(', ')} }, tree-shaken) min+gz (min ${kb(typical.minBytes)})`, kb(typical.gzipBytes), ...target(typical.gzipBytes));
  addText('bundle', `5. rxsync, the whole barrel (src/index.ts: every export, HTTP pull adapters, eventSourcePoke…) min+gz (min ${kb(core.minBytes)})`, kb(core.gzipBytes));
  addText('bundle', `5. rxsync/operators (src/operators/index.ts) min+gz (min ${kb(operators.minBytes)})`, kb(operators.gzipBytes));
  progress(`bundle: largest parts of the app's import (min bytes): ${typical.modules.slice(0, 10).map((m) => `${m.path} ${fmtInt(m.bytes)}`).join(', ')}`);
}

/** What a typical app imports: the engine and the REST transport. */
const TYPICAL_IMPORT = ['createSyncEngine', 'httpTransport'];

// ── main ─────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const started = Date.now();
  const cpu = cpus();
  const machine = `${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, node ${process.version}, ${platform()} ${release()}`;
  console.log(`rxsync bench — ${machine}`);
  console.log(
    `${args.quick ? 'quick smoke run (small counts)' : 'full run'}, median of ${args.runs} run${args.runs === 1 ? '' : 's'}; storage: localforage on a counting memory driver; server: the reference server (server/) in-process, ${args.latencyMs} ms latency`,
  );
  const want = (s: Section): boolean => args.only.includes(s);
  const steps: [Section[], () => Promise<void>][] = [
    [['enqueue'], runEnqueue],
    [['flush'], runFlush],
    [['load', 'scaling'], () => runLoad(want('scaling'), want('load'))],
    [['bundle'], runBundle],
  ];
  for (const [sections, step] of steps) {
    if (!sections.some(want)) continue;
    try {
      await step();
    } catch (error) {
      failed = true;
      addText(sections.find(want)!, `${sections.join('/')}: FAILED`, String(error instanceof Error ? error.message : error).slice(0, 120));
      console.error(error);
    }
  }
  console.log('');
  printTable();
  console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; ✓/✗ compare the median with the target; targets are figures, not asserts)`);
  if (failed) process.exitCode = 1;
}

await main();
