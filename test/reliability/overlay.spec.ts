import { afterAll, describe, expect, it } from 'vitest';
import { runScenario, type Scenario } from './scenario.js';
import { stopServingOverHttp } from './simulatedServer.js';

afterAll(stopServingOverHttp);

/**
 * Shrunk scenarios of the model (see scenario.ts and appView.ts) where the app was shown a
 * record with a pending write on top and that write then never landed: the app must end up
 * showing what the server holds. Each failed before pending writes that end gave the
 * server's record back.
 */
describe('reliability: what the app shows after read-your-writes', () => {
  const scenarios: [string, Scenario][] = [
    [
      'a pulled record under a pending create, the create cleared after a crash',
      {
        strategy: 'server-wins',
        startOnline: true,
        commands: [
          { k: 'write', rec: 'a', op: 'create' },
          { k: 'restart', crash: true, after: 1 },
          { k: 'fault', kind: '503', n: 1 },
          { k: 'tick', ms: 0 },
          { k: 'clear' },
          { k: 'write', rec: 'b', op: 'create' },
          { k: 'tick', ms: 0 },
          { k: 'write', rec: 'c', op: 'create' },
        ],
      },
    ],
    [
      'a pending update cleared while its answer was lost, the app refusing a page, then a crash',
      {
        strategy: 'server-wins',
        startOnline: false,
        commands: [
          { k: 'online', on: true },
          { k: 'fault', kind: 'lost', n: 1 },
          { k: 'write', rec: 'a', op: 'update' },
          { k: 'fault', kind: 'refused', n: 2 },
          { k: 'tick', ms: 2 },
          { k: 'clear' },
          { k: 'pullFail', n: 1 },
          { k: 'restart', crash: true, after: 3 },
          { k: 'flush' },
        ],
      },
    ],
    [
      // The create was applied before the crash; its replayed answer is older than the record pulled since.
      'a replayed answer older than the record pulled meanwhile does not replace it',
      {
        strategy: 'server-wins',
        startOnline: false,
        commands: [
          { k: 'online', on: true },
          { k: 'write', rec: 'a', op: 'create' },
          { k: 'restart', crash: true, after: 1 },
          { k: 'remoteEdit', rec: 'a' },
          { k: 'fault', kind: '503', n: 1 },
          { k: 'flush' },
          { k: 'online', on: false },
        ],
      },
    ],
  ];
  it.each(scenarios)('%s', async (_name, scenario) => {
    const { violations } = await runScenario(scenario);
    expect(violations).toEqual([]);
  });
});
