/**
 * Soak run of the reliability model: many thousands of random scenarios against the real
 * engine, with a summary of what was injected and what went wrong, and heap figures to
 * show that memory stays flat (no leaked subscriptions or timers).
 *
 *   node --expose-gc --import tsx test/reliability/soak.ts --scenarios 5000 [--seed 42] [--commands 40]
 *   npx tsx test/reliability/soak.ts --scenarios 5000      (heap figures without forced GC)
 *   npx tsx test/reliability/soak.ts --replay '<scenario json>'   (or a file holding it, e.g. a saved soak log)
 *   npx tsx test/reliability/soak.ts --replay '<scenario json>' --shrink   (drops commands while the same kind of violation stays)
 *
 * Every violating scenario is printed as soon as it is found, with the seed of its run, so a
 * long soak that is stopped early still leaves every scenario it found behind.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { runScenario, type Scenario, scenarioArb } from './scenario.js';

const text = (name: string): string | undefined => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const arg = (name: string, fallback: number): number => {
  const value = text(name);
  return value === undefined ? fallback : Number(value);
};

/** A scenario given inline or in a file; in a saved soak log, the first `FAILED SCENARIO` line. */
function readScenario(source: string): Scenario {
  const json = source.trimStart().startsWith('{') ? source : readFileSync(source, 'utf8');
  const line = json.split('\n').find((l) => l.includes('{"strategy"')) ?? json;
  return JSON.parse(line.slice(line.indexOf('{'))) as Scenario;
}

/** The kind of a violation: its text up to the first colon ("doubled", "out of order on \"b\"", …). */
const kindOf = (violation: string): string => violation.slice(0, violation.indexOf(':'));

/** Drops one command at a time, as long as the first violation's kind still shows: scenarios run in virtual time, so this is exact. */
async function shrink(scenario: Scenario): Promise<Scenario> {
  const [first] = (await runScenario(scenario)).violations;
  if (first === undefined) return scenario;
  let smallest = scenario;
  for (let dropped = true; dropped; ) {
    dropped = false;
    for (let i = smallest.commands.length - 1; i >= 0; i--) {
      const candidate = { ...smallest, commands: smallest.commands.filter((_, j) => j !== i) };
      if ((await runScenario(candidate)).violations.some((v) => kindOf(v) === kindOf(first))) {
        smallest = candidate;
        dropped = true;
      }
    }
  }
  return smallest;
}

const replay = text('replay');
if (replay !== undefined) {
  const scenario = process.argv.includes('--shrink') ? await shrink(readScenario(replay)) : readScenario(replay);
  const { violations, serverLog, writes } = await runScenario(scenario);
  console.log('SCENARIO', JSON.stringify(scenario));
  console.log('writes    ', JSON.stringify(writes.map(({ n, rec, op, state }) => ({ n, rec, op, state }))));
  console.log('server log', JSON.stringify(serverLog));
  console.log(violations.length === 0 ? 'no violations' : violations.map((v) => `  - ${v}`).join('\n'));
  process.exit(violations.length > 0 ? 1 : 0);
}
const scenarios = arg('scenarios', 2000);
const seed = arg('seed', Date.now() % 2 ** 31);
const maxCommands = arg('commands', 40);

const uncaught: unknown[] = [];
process.on('unhandledRejection', (error) => uncaught.push(error));
process.on('uncaughtException', (error) => uncaught.push(error));

const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = async (): Promise<number> => {
  await new Promise((resolve) => setImmediate(resolve));
  gc?.();
  gc?.();
  return Math.round((process.memoryUsage().heapUsed / 2 ** 20) * 10) / 10;
};

const counted = [
  'commands', 'writes', 'resolved', 'rejected', 'uncertain', 'restarts', 'crashes', 'writesBeforeLoad', 'writesViaSubject',
  'lost', 'doubled', 'reordered', 'stuck', 'unjustified', 'unjustifiedAcks', 'misjudgedConflicts', 'undrained', 'missedPulls', 'wire',
] as const;
const totals = { scenarios: 0, failedScenarios: 0, ...(Object.fromEntries(counted.map((key) => [key, 0])) as Record<(typeof counted)[number], number>) };
const faults: Record<string, number> = {};
/** How many scenarios ran with each engine set-up (conflict strategy, batch size, headers getter). */
const setups: Record<string, number> = {};
const heap: { at: number; mb: number }[] = [];
let maxTimersAfter = 0;
let requests = 0;

const started = Date.now();
heap.push({ at: 0, mb: await heapMb() });
const batch = 250;
for (let done = 0; done < scenarios; done += batch) {
  const sample = fc.sample(scenarioArb(maxCommands), { numRuns: Math.min(batch, scenarios - done), seed: seed + done });
  for (const scenario of sample) {
    const { violations, stats, timersLeft, requests: sent } = await runScenario(scenario);
    requests += sent;
    totals.scenarios++;
    for (const key of counted) totals[key] += stats[key];
    for (const setup of [scenario.strategy, `batchSize ${scenario.batchSize ?? 1}`, `${scenario.headers ?? 'sync'} headers`]) setups[setup] = (setups[setup] ?? 0) + 1;
    for (const [kind, n] of Object.entries(stats.faults)) faults[kind] = (faults[kind] ?? 0) + n;
    if (violations.length > 0) {
      totals.failedScenarios++;
      console.log(`FAILED SCENARIO (seed ${seed}, scenario ${totals.scenarios})`, JSON.stringify(scenario));
      for (const violation of violations.slice(0, 5)) console.log('  -', violation);
    }
    maxTimersAfter = Math.max(maxTimersAfter, timersLeft);
  }
  if (done + batch >= scenarios / 2 && heap.length === 1) heap.push({ at: totals.scenarios, mb: await heapMb() });
}
heap.push({ at: totals.scenarios, mb: await heapMb() });

console.log(`rxsync reliability soak — seed ${seed}, ${maxCommands} commands max per scenario, ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`scenarios         ${totals.scenarios} (${totals.failedScenarios} with violations)`);
console.log(`commands          ${totals.commands}`);
const listed = (counts: Record<string, number>): string => Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}=${n}`).join(', ');
console.log(`set-ups           ${listed(setups)}`);
console.log(`writes            ${totals.writes} (resolved ${totals.resolved}, rejected by storage ${totals.rejected}, unsettled at a crash ${totals.uncertain})`);
console.log(`                  (on writes$ ${totals.writesViaSubject}, made before the outbox loaded ${totals.writesBeforeLoad})`);
console.log(`restarts          ${totals.restarts} (of which crashes ${totals.crashes})`);
console.log(`faults injected   ${listed(faults)}`);
console.log(`lost              ${totals.lost}`);
console.log(`doubled           ${totals.doubled}`);
console.log(`out of order      ${totals.reordered}`);
console.log(`stuck             ${totals.stuck}`);
console.log(`dead letters without cause ${totals.unjustified}`);
console.log(`acks without cause         ${totals.unjustifiedAcks}`);
console.log(`conflicts misjudged        ${totals.misjudgedConflicts}`);
console.log(`not drained by itself      ${totals.undrained}`);
console.log(`pulls that missed a change ${totals.missedPulls}`);
console.log(`wire protocol breaches     ${totals.wire}`);
console.log(`uncaught errors   ${uncaught.length}`);
console.log(`timers left after a scenario (max) ${maxTimersAfter}`);
console.log(`heapUsed MB       ${heap.map((h) => `${h.mb} (after ${h.at})`).join(' → ')}${gc ? '' : '   (run with node --expose-gc for forced-GC figures)'}`);
// Measured apart: msw 2.15 on Node 20 keeps about 9 KB per intercepted request for good, engine or not.
console.log(`                  (includes what msw keeps of ${requests} requests, about 9 KB each)`);
if (totals.failedScenarios > 0) console.log(`\n${totals.failedScenarios} failed scenario(s) printed above; replay one with --replay '<json>'.`);
for (const error of uncaught.slice(0, 5)) console.log('\nUNCAUGHT', error);
process.exitCode = totals.failedScenarios > 0 || uncaught.length > 0 ? 1 : 0;
