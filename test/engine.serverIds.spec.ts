import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { filter, firstValueFrom } from 'rxjs';
import type { SyncEngineOptions, SyncEvent, SyncStorage } from '../src/index.js';
import { assignmentKey } from '../src/outbox.js';
import { drained, freshStorage, testEngine } from './support/engineHarness.js';
import { restApi } from './support/restApi.js';
import { FaultyStorage, storageDevice } from './reliability/faultyStorage.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/** `todos` get their ids from the server (the msw API names a record without one `s1`, `s2`, …). */
const serverIdEngine = (options: Partial<SyncEngineOptions<'todos' | 'notes'>> & { startOnline?: boolean } = {}) => {
  const pulled: unknown[] = [];
  const engine = testEngine({
    entities: { todos: { endpoint: '/todos', serverIds: true }, notes: { endpoint: '/notes' } },
    onPull: (_entity, items) => void pulled.push(...items),
    ...options,
  });
  return Object.assign(engine, { pulled });
};

/** Holds every POST until `release()`; `sent` resolves once the first one arrived. */
function holdPosts() {
  let release!: () => void;
  let arrived!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const sent = new Promise<void>((resolve) => (arrived = resolve));
  api.override(async (request) => {
    if (request.method !== 'POST') return undefined;
    arrived();
    await released;
    return undefined;
  });
  return { sent, release };
}

const requestLines = () => api.requests.map((r) => `${r.method} ${r.path} ${JSON.stringify(r.body ?? null)}`);
const idAssigned = (engine: { events$: import('rxjs').Observable<SyncEvent> }) => firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'id-assigned')));

describe('engine: ids the server assigns (entities.x.serverIds)', () => {
  it.each([1, 2])(
    'batchSize %i: the create goes without its temporary id; writes queued before its ack wait, then go to the server id',
    async (batchSize) => {
      const posts = holdPosts();
      const engine = serverIdEngine({ batchSize });
      const create = await engine.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
      await posts.sent;
      // Queued while the create is on its way: they wait behind it.
      await engine.write({ entity: 'todos', operation: 'update', data: { id: 't1', done: true } });
      await engine.write({ entity: 'todos', operation: 'create', data: { id: 't2', title: 'eggs' } });
      const assigned = idAssigned(engine);
      posts.release();
      expect(await assigned).toEqual({ type: 'id-assigned', entity: 'todos', tempId: 't1', id: 's1' });
      await drained(engine);
      await engine.delete('todos', 't2');
      // After the ack, the app may still use the temporary id: it reaches the server's record.
      await engine.write({ entity: 'todos', operation: 'update', data: { id: 't1', title: 'oat milk' } });
      await drained(engine);

      const posted = api.requests.filter((r) => r.method === 'POST');
      expect(posted.map((r) => r.body)).toEqual([{ title: 'milk' }, { title: 'eggs' }]);
      expect(posted[0].key).toBe(create.id);
      expect(requestLines().filter((line) => !line.startsWith('POST'))).toEqual([
        'PATCH /todos/s1 {"id":"s1","done":true}',
        'DELETE /todos/s2 null',
        'PATCH /todos/s1 {"id":"s1","title":"oat milk"}',
      ]);
      expect([...api.records.values()]).toEqual([{ id: 's1', title: 'oat milk', done: true }]);
      expect(engine.seen.filter((e) => e.type === 'id-assigned').map((e) => e.type === 'id-assigned' && [e.tempId, e.id])).toEqual([
        ['t1', 's1'],
        ['t2', 's2'],
      ]);
      // The app gets the server's record under its id, as a pull would give it, with the write
      // still queued for it on top (read-your-writes); the record deleted meanwhile as a tombstone.
      expect(engine.pulled.slice(0, 2)).toEqual([{ id: 's1', title: 'milk', done: true }, { id: 's2', deleted: true }]);
      expect(engine.pendingFor('todos', 't1')).toEqual([]);
      expect(engine.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });
      engine.destroy();
    },
  );

  it('after a restart, writes with the temporary id still reach the server id', async () => {
    const storage = freshStorage();
    const first = serverIdEngine({ storage });
    await first.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
    await drained(first);
    first.destroy();

    const second = serverIdEngine({ storage });
    await second.write({ entity: 'todos', operation: 'update', data: { id: 't1', done: true } });
    await drained(second);
    expect(requestLines()).toEqual(['POST /todos {"title":"milk"}', 'PATCH /todos/s1 {"id":"s1","done":true}']);
    second.destroy();
  });

  it('an assignment the engine forgot (it keeps the last 1000) stays forgotten after a restart: a write with the temporary id goes to that id', async () => {
    const storage = freshStorage();
    const assignment = { entity: 'todos', tempId: 't1', id: 's1' };
    // As the engine stores them: the assignment, then its key once it was pushed out by newer ones.
    await storage.setItem('rxsync:outbox:log:1', { v: 1, entries: [['m', assignment]] });
    await storage.setItem('rxsync:outbox:log:2', { v: 1, entries: [['m', assignmentKey(assignment)]] });
    api.records.set('todos/t1', { id: 't1' });
    const engine = serverIdEngine({ storage });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: 't1', done: true } });
    await drained(engine);
    expect(requestLines()).toEqual(['PATCH /todos/t1 {"id":"t1","done":true}']);
    expect(engine.seen.filter((e) => e.type === 'storage-error')).toEqual([]);
    engine.destroy();
  });

  it('a crash between the answer and storing the ack loses nothing: the restart re-sends the create under its key, and the rest goes to the same server id once', async () => {
    const device = storageDevice();
    const crashing = new FaultyStorage(device);
    const posts = holdPosts();
    const first = serverIdEngine({ storage: crashing });
    const create = await first.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
    await posts.sent;
    const update = await first.write({ entity: 'todos', operation: 'update', data: { id: 't1', done: true } });
    crashing.freeze();
    const assigned = idAssigned(first);
    posts.release();
    await assigned;
    first.destroy();
    // Nothing of the ack or the move reached storage, and the moved update was not sent before it did.
    expect(requestLines()).toEqual(['POST /todos {"title":"milk"}']);

    api.override(undefined);
    const restarted = serverIdEngine({ storage: new FaultyStorage(device) });
    await drained(restarted);
    expect(api.requests.map((r) => [r.method, r.path, r.key])).toEqual([
      ['POST', '/todos', create.id],
      ['POST', '/todos', create.id],
      ['PATCH', '/todos/s1', update.id],
    ]);
    // The server replayed its answer to the repeated key: one record, each write applied once.
    expect([...api.records.values()]).toEqual([{ id: 's1', title: 'milk', done: true }]);
    expect([...api.applied.values()]).toEqual([1, 1]);
    expect(restarted.seen).toContainEqual({ type: 'id-assigned', entity: 'todos', tempId: 't1', id: 's1' });
    restarted.destroy();
  });

  it('a storage failure on the batch holding the ack: the move stands, is stored with the next batch, and survives a restart', async () => {
    const device = storageDevice();
    const failing = new FaultyStorage(device);
    const posts = holdPosts();
    const first = serverIdEngine({ storage: failing as SyncStorage });
    await first.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
    await posts.sent;
    await first.write({ entity: 'todos', operation: 'update', data: { id: 't1', done: true } });
    failing.failNextSetItems = 1;
    posts.release();
    await drained(first);
    expect(first.seen.some((e) => e.type === 'storage-error')).toBe(true);
    await failing.idle();
    first.destroy();

    const second = serverIdEngine({ storage: new FaultyStorage(device) });
    await second.ready;
    expect(second.getQueueLength()).toBe(0);
    await second.write({ entity: 'todos', operation: 'delete', data: { id: 't1' } });
    await drained(second);
    expect(requestLines()).toEqual(['POST /todos {"title":"milk"}', 'PATCH /todos/s1 {"id":"s1","done":true}', 'DELETE /todos/s1 null']);
    expect(api.records.size).toBe(0);
    second.destroy();
  });

  it('an answer that names no id: the create is delivered, the event says so, and later writes keep the temporary id', async () => {
    api.override((request) => (request.method === 'POST' ? new Response(null, { status: 204 }) : undefined));
    const engine = serverIdEngine();
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
    await drained(engine);
    expect(engine.seen.find((e) => e.type === 'pushed')).toMatchObject({ status: 204, reason: expect.stringContaining('names no record id') });
    expect(engine.seen.some((e) => e.type === 'id-assigned')).toBe(false);
    engine.destroy();
  });

  it('the app is handed the created record under the id the server gave it', async () => {
    const engine = serverIdEngine();
    const handed = firstValueFrom(engine.pulled$.pipe(filter(({ items }) => items.length > 0)));
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
    expect((await handed).items).toEqual([{ id: 's1', title: 'milk' }]);
    engine.destroy();
  });

  it('a server that keeps the id the app gave (as a number for the app\'s "7"): nothing is assigned, later writes go to that id', async () => {
    api.override((request) => (request.method === 'POST' ? Response.json({ id: 7, title: 'milk' }, { status: 201 }) : undefined));
    const engine = serverIdEngine();
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '7', title: 'milk' } });
    await drained(engine);
    api.override(undefined);
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '7', done: true } });
    await drained(engine);
    expect(engine.seen.some((e) => e.type === 'id-assigned')).toBe(false);
    expect(engine.seen.find((e) => e.type === 'pushed')).not.toHaveProperty('reason');
    expect(requestLines().at(-1)).toBe('PATCH /todos/7 {"id":"7","done":true}');
    engine.destroy();
  });

  it('a create answered 409 with another record (the server wins by default): no id is assigned, and the answer is not read as one that forgot the id', async () => {
    api.override((request) => (request.method === 'POST' ? Response.json({ id: 'theirs', title: 'milk' }, { status: 409 }) : undefined));
    const engine = serverIdEngine();
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 't1', title: 'milk' } });
    await drained(engine);
    expect(engine.seen.filter((e) => e.type === 'conflict' || e.type === 'id-assigned' || e.type === 'dead-lettered').map((e) => e.type)).toEqual(['conflict']);
    expect(engine.seen.find((e) => e.type === 'conflict')).toMatchObject({ resolution: { outcome: 'server-wins' } });
    expect(engine.seen.find((e) => e.type === 'pushed')).toMatchObject({ status: 409 });
    expect(engine.seen.find((e) => e.type === 'pushed')).not.toHaveProperty('reason');
    engine.destroy();
  });

  it('entities without serverIds send the id they were written with', async () => {
    const engine = serverIdEngine();
    await engine.write({ entity: 'notes', operation: 'create', data: { id: 'n1' } });
    await drained(engine);
    expect(requestLines()).toEqual(['POST /notes {"id":"n1"}']);
    engine.destroy();
  });

  it.each([
    ['a create of an entity without serverIds', 'notes', 'create', 'POST'],
    ['an update of an entity with serverIds', 'todos', 'update', 'PATCH'],
  ] as const)('%s answered with another id is not moved onto it: later writes keep the id the app gave, and the app is not handed that record', async (_what, entity, operation, method) => {
    api.override((request) => (request.method === method ? Response.json({ id: 'elsewhere', title: 'milk' }, { status: method === 'POST' ? 201 : 200 }) : undefined));
    const engine = serverIdEngine();
    await engine.write({ entity, operation, data: { id: 'a1', title: 'milk' } });
    await drained(engine);
    api.override(undefined);
    await engine.write({ entity, operation: 'update', data: { id: 'a1', done: true } });
    await drained(engine);
    expect(engine.seen.some((e) => e.type === 'id-assigned')).toBe(false);
    expect(requestLines().at(-1)).toBe(`PATCH /${entity}/a1 {"id":"a1","done":true}`);
    expect(engine.pulled).not.toContainEqual(expect.objectContaining({ id: 'elsewhere' }));
    engine.destroy();
  });

  it('a serverIds that is not a boolean is refused at construction', () => {
    expect(() =>
      testEngine({ entities: { todos: { endpoint: '/todos', serverIds: 'yes' as unknown as boolean }, notes: { endpoint: '/notes' } } }),
    ).toThrow(/\[rxsync\] options\.entities\.todos\.serverIds must be true or false; got yes/);
  });
});
