import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScenario, scenarioArb } from './scenario.js';

/**
 * Model-based fault testing: random scenarios against the real engine and a simulated
 * server, checked for "nothing lost, nothing doubled" (see scenario.ts). A failure shrinks
 * to a minimal scenario and prints its seed; replay it with `{ seed, path }` in fc.assert.
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
      { numRuns: Number(process.env.RELIABILITY_RUNS ?? 150) },
    );
  }, 120_000);
});
