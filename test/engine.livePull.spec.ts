import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom, Subject } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PullInfo } from '../src/index.js';
import { drained, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/** A pull feed over the msw API's records: every GET answers all records of the entity; `gets` counts them. */
function feed(options: { gate?: Promise<void> } = {}) {
  const gets: string[] = [];
  api.server.use(
    http.get(`${API}/:entity`, async ({ params }) => {
      gets.push(String(params.entity));
      await options.gate;
      const items = [...api.records.entries()].filter(([key]) => key.startsWith(`${String(params.entity)}/`)).map(([, record]) => record);
      return HttpResponse.json({ items });
    }),
  );
  return gets;
}

describe('engine: pulls by itself', () => {
  it('pulls once the outbox has loaded, when the network comes back, and after a flush emptied the queue', async () => {
    const gets = feed();
    const engine = testEngine({ autoPull: undefined });
    // Each pull asks once per entity (todos and notes).
    const pulls = (n: number) => firstValueFrom(engine.status$.pipe(filter((s) => gets.length >= 2 * n && s.status === 'idle')));
    await pulls(1);
    expect(gets).toHaveLength(2);

    engine.network.next(false);
    engine.network.next(true);
    await pulls(2);
    expect(gets).toHaveLength(4);

    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await pulls(3);
    expect(gets).toHaveLength(6);
    engine.destroy();
  });

  it('pokes during a pull cause exactly one more pull, and a poke$ that errors is reported, not fatal', async () => {
    let open!: () => void;
    const gets = feed({ gate: new Promise<void>((resolve) => (open = resolve)) });
    const poke$ = new Subject<void>();
    const engine = testEngine({ autoPull: { onStart: false, onReconnect: false, afterPush: false }, poke$ });
    await engine.ready;
    poke$.next();
    poke$.next();
    poke$.next();
    poke$.next();
    open();
    await firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'pulled'), filter(() => gets.length === 4)));
    await drained(engine);
    // Two entities per pull: the first pull, then one more for the three pokes that came during it.
    expect(gets.sort()).toEqual(['notes', 'notes', 'todos', 'todos']);
    poke$.error(new Error('stream closed'));
    expect(engine.seen.find((e) => e.type === 'callback-error')).toMatchObject({ callback: 'poke$', error: expect.stringMatching(/stream closed/) });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'still-works' } });
    await drained(engine);
    expect(api.records.has('todos/still-works')).toBe(true);
    engine.destroy();
  });
});

describe('engine: read-your-writes', () => {
  it('with readYourWrites: false, pulled records come as the server sent them, and pending lists the ones with queued writes', async () => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server' });
    api.records.set('todos/2', { id: '2', title: 'synced' });
    const applied: [unknown[], PullInfo][] = [];
    const engine = testEngine({ startOnline: false, readYourWrites: false, onPull: (_entity, items, info) => void applied.push([items, info]) });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    api.override((request) => (request.method !== 'GET' ? HttpResponse.error() : undefined));
    engine.network.next(true);
    await engine.pull();
    const [items, info] = applied.find(([, i]) => i.pending.length > 0)!;
    expect(items).toEqual([{ id: '1', title: 'server' }, { id: '2', title: 'synced' }]);
    expect(info.pending).toEqual(['1']);
    engine.destroy();
  });

  it('the server\'s answer to each own write goes to onPull as the record\'s new state', async () => {
    api.records.set('todos/1', { id: '1', title: 'old' });
    const applied: unknown[] = [];
    const engine = testEngine({ onPull: (_entity, items) => void applied.push(...items) });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    expect(engine.pendingFor('todos', '1')).toHaveLength(1);
    await drained(engine);
    await firstValueFrom(engine.pulled$);
    expect(applied).toEqual([{ id: '1', title: 'mine' }]);
    expect(engine.pendingFor('todos', '1')).toEqual([]);
    engine.destroy();
  });

  it('the pending writes are applied on top of a pulled record: updates merged, a delete as a tombstone', async () => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server', done: false });
    api.records.set('todos/2', { id: '2', title: 'gone soon' });
    const applied: [unknown[], PullInfo][] = [];
    const engine = testEngine({ startOnline: false, onPull: (_entity, items, info) => void applied.push([items, info]) });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', done: true } });
    await engine.write({ entity: 'todos', operation: 'delete', data: { id: '2' } });
    // Pull with pushing held back: the server would answer the pushes at once otherwise.
    api.override((request) => (request.method !== 'GET' ? HttpResponse.error() : undefined));
    engine.network.next(true);
    await engine.pull();
    const [items, info] = applied.find(([, i]) => i.pending.length > 0)!;
    expect(items).toEqual([{ id: '1', title: 'server', done: true }, { id: '2', deleted: true }]);
    expect([...info.pending].sort()).toEqual(['1', '2']);
    engine.destroy();
  });
});
