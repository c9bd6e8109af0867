import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, scenarioArb } from './scenario.js';

/**
 * Model-based fault testing: random scenarios against the real engine, its httpTransport
 * and a simulated server, in virtual time, checked for "nothing lost, nothing doubled,
 * nothing out of order, no dead letter without cause, pulls miss nothing" (see scenario.ts).
 * A failure shrinks to a minimal scenario; replay it with `npx tsx test/reliability/soak.ts --replay '<json>'`.
 */
describe('reliability: nothing lost, nothing doubled', () => {
  const uncaught: unknown[] = [];
  const onError = (error: unknown): void => {
    uncaught.push(error);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onError);
    process.on('uncaughtException', onError);
  });
  afterAll(() => {
    process.off('unhandledRejection', onError);
    process.off('uncaughtException', onError);
  });

  it('random scenarios keep every invariant', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(25), async (scenario) => {
        const report = await runScenario(scenario);
        // let stray rejections surface before judging this scenario
        await new Promise((resolve) => setImmediate(resolve));
        expect(uncaught.map(String)).toEqual([]);
        expect(report.violations).toEqual([]);
      }),
      // A fixed seed: the suite is deterministic (scenarios run in virtual time); the soak explores other seeds.
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 150), seed: Number(process.env.RELIABILITY_SEED ?? 20261127) },
    );
  }, 120_000);
});
