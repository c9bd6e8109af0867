/**
 * Soak run of the reliability model: many thousands of random scenarios against the real
 * engine, with a summary of what was injected and what went wrong, and heap figures to
 * show that memory stays flat (no leaked subscriptions or timers).
 *
 *   node --expose-gc --import tsx test/reliability/soak.ts --scenarios 5000 [--seed 42] [--commands 40]
 *   npx tsx test/reliability/soak.ts --scenarios 5000      (heap figures without forced GC)
 */
import fc from 'fast-check';
import { runScenario, type Scenario, scenarioArb } from './scenario.js';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? Number(process.argv[at + 1]) : fallback;
};
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
const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length;

const totals = { scenarios: 0, commands: 0, writes: 0, resolved: 0, rejected: 0, uncertain: 0, restarts: 0, crashes: 0, lost: 0, doubled: 0, reordered: 0, stuck: 0, failedScenarios: 0 };
const faults: Record<string, number> = {};
const heap: { at: number; mb: number }[] = [];
const failures: { scenario: Scenario; violations: string[] }[] = [];
let maxTimersAfter = 0;

const started = Date.now();
heap.push({ at: 0, mb: await heapMb() });
const baselineTimers = activeTimers();
const batch = 250;
for (let done = 0; done < scenarios; done += batch) {
  const sample = fc.sample(scenarioArb(maxCommands), { numRuns: Math.min(batch, scenarios - done), seed: seed + done });
  for (const scenario of sample) {
    const { violations, stats } = await runScenario(scenario);
    totals.scenarios++;
    for (const key of ['commands', 'writes', 'resolved', 'rejected', 'uncertain', 'restarts', 'crashes', 'lost', 'doubled', 'reordered', 'stuck'] as const) {
      totals[key] += stats[key];
    }
    for (const [kind, n] of Object.entries(stats.faults)) faults[kind] = (faults[kind] ?? 0) + n;
    if (violations.length > 0) {
      totals.failedScenarios++;
      if (failures.length < 5) failures.push({ scenario, violations });
    }
    // every engine is destroyed and the server idle: nothing may still be scheduled
    await new Promise((resolve) => setImmediate(resolve));
    maxTimersAfter = Math.max(maxTimersAfter, activeTimers() - baselineTimers);
  }
  if (done + batch >= scenarios / 2 && heap.length === 1) heap.push({ at: totals.scenarios, mb: await heapMb() });
}
heap.push({ at: totals.scenarios, mb: await heapMb() });

console.log(`rxsync reliability soak — seed ${seed}, ${maxCommands} commands max per scenario, ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`scenarios         ${totals.scenarios} (${totals.failedScenarios} with violations)`);
console.log(`commands          ${totals.commands}`);
console.log(`writes            ${totals.writes} (resolved ${totals.resolved}, rejected by storage ${totals.rejected}, unsettled at a crash ${totals.uncertain})`);
console.log(`restarts          ${totals.restarts} (of which crashes ${totals.crashes})`);
console.log(`faults injected   ${Object.entries(faults).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}=${n}`).join(', ')}`);
console.log(`lost              ${totals.lost}`);
console.log(`doubled           ${totals.doubled}`);
console.log(`out of order      ${totals.reordered}`);
console.log(`stuck             ${totals.stuck}`);
console.log(`uncaught errors   ${uncaught.length}`);
console.log(`timers left after a scenario (max) ${maxTimersAfter}`);
console.log(`heapUsed MB       ${heap.map((h) => `${h.mb} (after ${h.at})`).join(' → ')}${gc ? '' : '   (run with node --expose-gc for forced-GC figures)'}`);
for (const failure of failures) {
  console.log('\nFAILED SCENARIO', JSON.stringify(failure.scenario));
  for (const violation of failure.violations.slice(0, 5)) console.log('  -', violation);
}
for (const error of uncaught.slice(0, 5)) console.log('\nUNCAUGHT', error);
process.exitCode = totals.failedScenarios > 0 || uncaught.length > 0 ? 1 : 0;
