import { NEVER, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../src/memoryStorage.js';
import { Puller } from '../src/puller.js';
import type { PullInfo, SyncEvent } from '../src/index.js';

/** A puller whose only job here is handing records to `onPull`; no request is made. */
function puller(onPull: (entity: 'todos', items: unknown[], info: PullInfo) => void | Promise<void>) {
  const reported: SyncEvent[] = [];
  // Not an inline literal: newer pullers take more options (their own storage), which this
  // object also gives without the compiler calling them excess where they are not used yet.
  const options = {
    entities: { todos: { endpoint: '/todos' } },
    transport: { push: () => of({ status: 200, body: undefined }), pull: () => NEVER },
    store: { loadCheckpoint: () => Promise.resolve({}), saveCheckpoint: () => Promise.resolve() },
    stop$: NEVER,
    onPull,
    pendingFor: () => [],
    readYourWrites: false,
    storage: memoryStorage(),
    storageKey: 'rxsync',
    report: (event: SyncEvent) => reported.push(event),
  };
  const instance = new Puller<'todos'>(options);
  return { puller: instance, reported };
}

describe('the puller hands remote records to the app', () => {
  it('one hand-over at a time per entity, in order, however many queue up while one runs', async () => {
    const log: string[] = [];
    const finish = new Map<string, () => void>();
    const { puller: p } = puller(async (_entity, items) => {
      const name = String((items[0] as { id: string }).id);
      log.push(`start ${name}`);
      await new Promise<void>((resolve) => finish.set(name, resolve));
      log.push(`end ${name}`);
    });
    const a = p.apply('todos', [{ id: 'a' }]);
    const b = p.apply('todos', [{ id: 'b' }]);
    await new Promise((resolve) => setImmediate(resolve));
    finish.get('a')!();
    await a;
    await new Promise((resolve) => setImmediate(resolve));
    // b is being applied now; c arrives and must wait for it.
    const c = p.apply('todos', [{ id: 'c' }]);
    await new Promise((resolve) => setImmediate(resolve));
    finish.get('b')!();
    await b;
    await new Promise((resolve) => setImmediate(resolve));
    finish.get('c')!();
    await c;
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('a record handed over after a push whose onPull throws is reported as a callback error', async () => {
    const { puller: p, reported } = puller(() => {
      throw new Error('local db busy');
    });
    const item = { id: 'w1', entity: 'todos', operation: 'update' as const, data: { id: 'a' }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 };
    p.answered({ event: { type: 'pushed', item, status: 200, body: { id: 'a' } }, record: { entity: 'todos', data: { id: 'a' } } }, false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(reported).toEqual([{ type: 'callback-error', callback: 'onPull', error: '[rxsync] onPull threw: local db busy' }]);
  });

  it('names no record as pending when the app has no write queued for any of them, nor one without an id', async () => {
    const seen: PullInfo[] = [];
    const { puller: p } = puller((_entity, _items, info) => {
      seen.push(info);
    });
    await p.apply('todos', [{ id: 'a' }, { title: 'no id' }]);
    expect(seen).toEqual([{ pending: [] }]);
  });
});
