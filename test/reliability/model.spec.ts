import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Command, runScenario, type Scenario, scenarioArb } from './scenario.js';
import { stopServingOverHttp } from './simulatedServer.js';

afterAll(stopServingOverHttp);

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

  // Each boundary fault once, in a small scenario the model judges, so the suite meets every one
  // of them whatever the random ones draw (each fails when the code that handles it is broken).
  const write = (rec: 'a' | 'b' | 'c', op: 'create' | 'update' | 'delete' = 'update', via?: 'writes$'): Command => ({ k: 'write', rec, op, ...(via ? { via } : {}) });
  const tick = (ms = 4): Command => ({ k: 'tick', ms });
  const fault = (kind: Extract<Command, { k: 'fault' }>['kind'], n = 1): Command => ({ k: 'fault', kind, n });
  const boundary: [string, Partial<Scenario> & { commands: Command[] }][] = [
    ['a retry asks headers for a new token', { commands: [fault('503'), write('a'), tick(), tick()] }],
    ['an async headers getter, per attempt', { headers: 'async', commands: [fault('429'), write('a'), tick(), tick()] }],
    ['a headers getter that throws: the write is retried, not failed', { commands: [{ k: 'headersFail', n: 2 }, write('a'), tick(), tick()] }],
    ['a push redirected to a login page is a dead letter naming the Location, never an ack', { commands: [fault('redirect'), write('a'), tick(), write('b'), tick()] }],
    ['2xx answers with an empty, HTML or broken body are acks, and no record for the app', {
      commands: [fault('ok-empty'), write('a'), tick(), fault('ok-html'), write('a'), tick(), fault('ok-garbled'), write('a', 'delete'), tick()],
    }],
    ...(['client-wins', 'last-write-wins', 'manual', 'server-wins'] as const).flatMap((strategy): [string, Partial<Scenario> & { commands: Command[] }][] => [
      [`${strategy}: a 409 without the record to an update`, { strategy, commands: [write('a', 'create'), tick(), fault('conflict-empty'), write('a'), tick(), tick()] }],
      [`${strategy}: a 409 with an error object to a create and a delete`, {
        strategy,
        commands: [fault('conflict-error'), write('a', 'create'), tick(), write('b', 'create'), tick(), fault('conflict-error'), write('b', 'delete'), tick()],
      }],
      [`${strategy}: a 409 with the record`, { strategy, commands: [write('a', 'create'), tick(), { k: 'remoteEdit', rec: 'a' }, write('a'), tick(), tick()] }],
    ]),
    ['a request that never gets an answer is aborted by the request timeout and sent again', { commands: [fault('hang'), write('a'), tick(), { k: 'tick', ms: 30 }, tick()] }],
    ['requests that never get an answer, again and again, do not count against maxRetries', {
      commands: [fault('hang', 3), fault('hang-applied', 2), write('a'), ...Array.from({ length: 6 }, () => tick(30))],
    }],
    ['a request applied but never answered is not applied twice', { commands: [fault('hang-applied'), write('a'), write('b'), tick(), { k: 'tick', ms: 30 }, tick()] }],
    ['batches: a transient batch, a redirected one, a rewritten answer, a conflict in one', {
      batchSize: 3,
      commands: [
        { k: 'online', on: false }, write('a', 'create'), write('b', 'create'), write('c', 'create'), fault('503'), { k: 'online', on: true }, tick(), tick(),
        { k: 'online', on: false }, write('a'), write('b'), write('c'), fault('redirect'), { k: 'online', on: true }, tick(), tick(),
        { k: 'online', on: false }, write('a'), write('b'), write('c'), fault('ok-html'), { k: 'online', on: true }, tick(), tick(),
        { k: 'online', on: false }, write('a'), write('b'), fault('conflict-empty'), { k: 'online', on: true }, tick(), tick(),
      ],
    }],
    ['a log segment that cannot be read at load is reported, kept, and its writes not sent', {
      startOnline: false,
      commands: [write('a', 'create'), write('b', 'create'), tick(1), write('a'), tick(1), write('c', 'create'), tick(1), { k: 'readFail', nth: 1 }, { k: 'restart', crash: false, after: 0 }, write('c'), tick()],
    }],
    ['an outbox snapshot that cannot be read at load: that engine stores nothing, the next one delivers it', {
      startOnline: false,
      commands: [
        write('a', 'create'), { k: 'storageFail', n: 1 }, write('b', 'create'), tick(1), write('c', 'create'), tick(1), // the refused batch makes the next one a snapshot
        { k: 'snapshotReadFail' }, { k: 'restart', crash: false, after: 0 }, write('a'), write('b', 'create', 'writes$'), { k: 'online', on: true }, tick(),
      ],
    }],
    ['writes before the outbox loaded, on write() and writes$, and a destroy() before the load', {
      startOnline: false,
      commands: [write('a', 'create'), { k: 'restart', crash: false, after: 0 }, write('b', 'create', 'writes$'), write('a', 'update', 'writes$'), { k: 'restart', crash: false, after: 0 }, write('c', 'create', 'writes$'), write('b')],
    }],
  ];
  it.each(boundary)('%s', async (_, scenario) => {
    const report = await runScenario({ strategy: 'client-wins', startOnline: true, ...scenario });
    expect(report.violations).toEqual([]);
    // The scenario met its faults (a fault nobody met would prove nothing).
    const met = scenario.commands.flatMap((c) => (c.k === 'fault' ? [c.kind] : c.k === 'headersFail' ? ['headers-throw'] : c.k === 'readFail' ? ['storage-getItem'] : c.k === 'snapshotReadFail' ? ['snapshot-getItem'] : []));
    for (const kind of met) expect(report.stats.faults, kind).toHaveProperty(kind);
  });
});
