import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import { memoryStorage, type SyncEngineOptions, type SyncStorage } from '../src/index.js';
import { drained, freshStorage, testEngine } from './support/engineHarness.js';
import { restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

describe('engine: persistence', () => {
  it('write() resolves once the write is in storage; a new engine on the same storage starts with that queue and flushes it', async () => {
    const storage = freshStorage();
    const first = testEngine({ storage, startOnline: false });
    await first.write({ entity: 'todos', operation: 'create', data: { id: '1', title: 'milk' } });
    await first.write({ entity: 'todos', operation: 'update', data: { id: '1', done: true } });
    await first.write({ entity: 'notes', operation: 'create', data: { id: 'n' } });
    first.destroy();

    const second = testEngine({ storage, startOnline: false });
    await second.ready;
    expect(second.getQueueLength()).toBe(2);
    expect((await firstValueFrom(second.queue$)).map((i) => i.data)).toEqual([{ id: '1', title: 'milk', done: true }, { id: 'n' }]);
    second.network.next(true);
    await drained(second);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 'milk', done: true });
    second.destroy();
  });

  it('dead letters survive a restart too, with their error', async () => {
    api.override(() => HttpResponse.json({ error: 'no' }, { status: 422 }));
    const storage = freshStorage();
    const first = testEngine({ storage });
    await first.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    const [dead] = await firstValueFrom(first.failed$.pipe(filter((f) => f.length === 1)));
    // Storage writes land in order: once this one is durable, so is the dead letter before it.
    await first.write({ entity: 'notes', operation: 'create', data: { id: 'barrier' } });
    first.destroy();
    const restarted = testEngine({ storage, startOnline: false });
    await restarted.ready;
    expect(restarted.getStatus()).toMatchObject({ failedCount: 1 });
    expect((await firstValueFrom(restarted.failed$))[0]).toEqual(dead);
    restarted.destroy();
  });

  it('a burst of writes costs few storage operations, and a long log is compacted into a snapshot', async () => {
    const storage = freshStorage();
    let sets = 0;
    const counting: SyncStorage = {
      getItem: (k) => storage.getItem(k),
      removeItem: (k) => storage.removeItem(k),
      keys: () => storage.keys(),
      setItem: (k, v) => {
        sets++;
        return storage.setItem(k, v);
      },
    };
    const engine = testEngine({ storage: counting, startOnline: false });
    await engine.ready;
    // 3,000 writes over 100 records: the log outgrows the 100 live items and is folded into a snapshot.
    await Promise.all(Array.from({ length: 3000 }, (_, i) => engine.write({ entity: 'todos', operation: 'update', data: { id: String(i % 100), n: i } })));
    expect(sets).toBeLessThanOrEqual(10);
    engine.destroy();
    const keys = await storage.keys();
    expect(keys).toContain('rxsync:outbox:snapshot');
    const reloaded = testEngine({ storage, startOnline: false });
    await reloaded.ready;
    expect(reloaded.getQueueLength()).toBe(100);
    expect((await firstValueFrom(reloaded.queue$))[99].data).toEqual({ id: '99', n: 2999 });
    reloaded.destroy();
  });
});

describe('engine: what each change to the outbox leaves in storage', () => {
  /** Makes what `engine` did durable (storage writes land in order), destroys it, and starts another on `storage`, offline. */
  async function restart(engine: ReturnType<typeof testEngine>, storage: SyncStorage) {
    await engine.write({ entity: 'notes', operation: 'create', data: { id: 'barrier' } });
    engine.destroy();
    const next = testEngine({ storage, startOnline: false });
    await next.ready;
    const queued = (await firstValueFrom(next.queue$)).filter((item) => (item.data as { id: string }).id !== 'barrier');
    return { next, queued, failed: await firstValueFrom(next.failed$) };
  }

  it('a write that was retried is still queued, with its retry count', async () => {
    api.override(() => HttpResponse.json({ error: 'busy' }, { status: 503, headers: { 'Retry-After': '60' } }));
    const storage = freshStorage();
    const first = testEngine({ storage });
    await first.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await firstValueFrom(first.queue$.pipe(filter((queue) => queue[0]?.retryCount === 1)));
    first.network.next(false);
    const { next, queued, failed } = await restart(first, storage);
    expect(queued.map((item) => [item.data, item.retryCount])).toEqual([[{ id: '1' }, 1]]);
    expect(failed).toEqual([]);
    next.destroy();
  });

  it('a create cancelled by its delete stays cancelled', async () => {
    const storage = freshStorage();
    const first = testEngine({ storage, startOnline: false });
    await first.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await first.delete('todos', '1');
    const { next, queued } = await restart(first, storage);
    expect(queued).toEqual([]);
    next.destroy();
  });

  it('a dead letter requeued by reprocessFailed() is queued, not a dead letter again; clearQueue() leaves neither', async () => {
    let refuse = true;
    api.override(() => (refuse ? HttpResponse.json({ error: 'no' }, { status: 422 }) : undefined));
    const storage = freshStorage();
    const first = testEngine({ storage });
    await first.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await firstValueFrom(first.failed$.pipe(filter((f) => f.length === 1)));
    first.network.next(false);
    await first.reprocessFailed();
    const requeued = await restart(first, storage);
    expect(requeued.queued.map((item) => item.data)).toEqual([{ id: '1' }]);
    expect(requeued.failed).toEqual([]);

    refuse = true;
    requeued.next.network.next(true);
    await firstValueFrom(requeued.next.failed$.pipe(filter((f) => f.length === 1)));
    requeued.next.network.next(false);
    await requeued.next.write({ entity: 'todos', operation: 'create', data: { id: '2' } });
    await requeued.next.clearQueue();
    expect(requeued.next.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });
    const cleared = await restart(requeued.next, storage);
    expect([cleared.queued, cleared.failed]).toEqual([[], []]);
    cleared.next.destroy();
  });
});

describe('engine: a write merged before the one it joined was stored', () => {
  /** Memory storage that refuses its second `setItem`: the first write is stored, the next storage write (the merge) is not. */
  function refusingSecondSetItem(): SyncStorage {
    const inner = memoryStorage();
    let setItems = 0;
    return { ...inner, setItem: (key, value) => (++setItems === 2 ? Promise.reject(new Error('quota exceeded')) : inner.setItem(key, value)) };
  }

  it('storage refuses the merge: what the server gets is the first write alone, as stored, never the merge whose write() was rejected', async () => {
    const storage = refusingSecondSetItem();
    const engine = testEngine({ storage });
    await engine.ready;
    // No await between: the update joins the create in memory while the create's own storage write is under way.
    const create = engine.write({ entity: 'todos', operation: 'create', data: { id: '1', title: 'milk' } });
    const update = engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'oat milk' } });
    await create;
    await expect(update).rejects.toMatchObject({ name: 'SyncStorageError' });
    await drained(engine);
    expect(api.requests.map((r) => [r.method, r.body])).toEqual([['POST', { id: '1', title: 'milk' }]]);
    engine.destroy();
  });

  it('storage refuses a merge and a clearQueue() stored together: the clear stands, and the write it took out is not put back', async () => {
    const storage = refusingSecondSetItem();
    const engine = testEngine({ storage, startOnline: false });
    await engine.ready;
    const calls = [
      engine.write({ entity: 'todos', operation: 'create', data: { id: '1', title: 'milk' } }),
      engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'oat milk' } }),
      engine.clearQueue(),
    ];
    expect((await Promise.allSettled(calls)).map((call) => call.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    engine.network.next(true);
    await drained(engine);
    expect(api.requests).toEqual([]);
    expect(engine.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });
    engine.destroy();
  });
});

describe('engine: bad data in storage', () => {
  it.each([1, 5])('a stored write of an entity no longer configured is dead-lettered with the reason (batchSize %i)', async (batchSize) => {
    const storage = freshStorage();
    const first = testEngine({ storage, startOnline: false });
    await first.write({ entity: 'notes', operation: 'create', data: { id: 'n' } });
    await first.write({ entity: 'todos', operation: 'create', data: { id: 't' } });
    first.destroy();
    const entities = { todos: { endpoint: '/todos' } } as SyncEngineOptions<'todos' | 'notes'>['entities'];
    const second = testEngine({ storage, entities, batchSize });
    const [dead] = await firstValueFrom(second.failed$.pipe(filter((f) => f.length === 1)));
    expect(dead.lastError).toMatch(/^\[rxsync\] Entity "notes" is not configured any more, so this write cannot be sent\. Add it back to options\.entities/);
    await drained(second);
    expect(api.records.has('todos/t')).toBe(true);
    second.destroy();
  });

  it('foreign data under the engine keys is kept aside, reported, and the engine starts without it', async () => {
    const storage = freshStorage();
    await storage.setItem('rxsync:outbox:snapshot', 'definitely not an outbox');
    await storage.setItem('rxsync:outbox:log:1', { v: 1, entries: [['q', { nope: true }]] });
    const engine = testEngine({ storage, startOnline: false });
    await engine.ready;
    expect(engine.getQueueLength()).toBe(0);
    const problems = engine.seen.filter((e) => e.type === 'storage-error');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatchObject({ key: 'rxsync:outbox:snapshot', error: expect.stringMatching(/^\[rxsync\] "rxsync:outbox:snapshot" does not hold rxsync outbox data \(found "definitely not an outbox"\); kept it aside as "rxsync:corrupt:/) });
    const keptAs = (problems[0] as { keptAs: string }).keptAs;
    expect(await storage.getItem(keptAs)).toBe('definitely not an outbox');
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    engine.network.next(true);
    await drained(engine);
    expect(api.records.has('todos/1')).toBe(true);
    expect(await storage.getItem('rxsync:outbox:snapshot')).not.toBe('definitely not an outbox');
    engine.destroy();
  });

  const stored = { id: 'k', entity: 'todos', operation: 'create', data: { id: '9' }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 };
  const bad = (patch: Record<string, unknown>) => ({ ...stored, id: 'bad', ...patch });
  const assignment = { entity: 'todos', tempId: 't', id: 's' };
  const snapshot = (patch: Record<string, unknown>) => ({ v: 1, seq: 1, queue: [], failed: [], ids: [], ...patch });
  /** `value` under `key`, then a good segment: the engine keeps the value aside, reports it once, and loads the segment. */
  async function expectKeptAside(storage: SyncStorage, key: string, value: unknown): Promise<void> {
    await storage.setItem(key, value);
    await storage.setItem('rxsync:outbox:log:2', { v: 1, entries: [['q', stored]] });
    const engine = testEngine({ storage, startOnline: false });
    await engine.ready;
    expect(engine.seen.filter((e) => e.type === 'storage-error')).toEqual([expect.objectContaining({ key, keptAs: expect.stringContaining('rxsync:corrupt:') })]);
    expect(await firstValueFrom(engine.queue$)).toEqual([stored]);
    expect(engine.getStatus().failedCount).toBe(0);
    engine.destroy();
  }
  it.each([
    ['a segment with an item whose id is a number', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({ id: 7 })]] }],
    ['a segment with an item whose entity is a number', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({ entity: 5 })]] }],
    ['a segment with an item of an unknown operation', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({ operation: 'upsert' })]] }],
    ['a segment with an item whose data is null', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({ data: null })]] }],
    ['a segment with an item whose data is text', 'rxsync:outbox:log:1', { v: 1, entries: [['f', bad({ data: 'text' })]] }],
    ['a segment with an item whose timestamp is a number', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({ timestamp: 5 })]] }],
    ['a segment with an item whose retryCount is text', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({ retryCount: '0' })]] }],
    ['a segment with a null item', 'rxsync:outbox:log:1', { v: 1, entries: [['q', null]] }],
    ['a segment with an entry that holds no item', 'rxsync:outbox:log:1', { v: 1, entries: [['q']] }],
    ['a segment with an entry of an unknown list', 'rxsync:outbox:log:1', { v: 1, entries: [['x', bad({})]] }],
    ['a segment with an entry of an unknown list that names an id', 'rxsync:outbox:log:1', { v: 1, entries: [['x', 'bad']] }],
    ['a segment with an id assignment that is a number', 'rxsync:outbox:log:1', { v: 1, entries: [['m', 5]] }],
    ['a segment with an id assignment that is null', 'rxsync:outbox:log:1', { v: 1, entries: [['m', null]] }],
    ['a segment with an id-assignment entry that holds nothing', 'rxsync:outbox:log:1', { v: 1, entries: [['m']] }],
    ['a segment with an id assignment without an id', 'rxsync:outbox:log:1', { v: 1, entries: [['m', { ...assignment, id: null }]] }],
    ['a segment with an id assignment whose entity is a number', 'rxsync:outbox:log:1', { v: 1, entries: [['m', { ...assignment, entity: 5 }]] }],
    ['a segment with a good entry, then an entry that is not a list', 'rxsync:outbox:log:1', { v: 1, entries: [['q', bad({})], 'q'] }],
    ['a segment of another version', 'rxsync:outbox:log:1', { v: 2, entries: [] }],
    ['a segment whose entries are not a list', 'rxsync:outbox:log:1', { v: 1, entries: 'none' }],
    ['a null segment', 'rxsync:outbox:log:1', null],
    ['a snapshot of another version', 'rxsync:outbox:snapshot', snapshot({ v: 2 })],
    ['a snapshot whose seq is not a whole number', 'rxsync:outbox:snapshot', snapshot({ seq: 1.5 })],
    ['a snapshot whose queue is not a list', 'rxsync:outbox:snapshot', snapshot({ queue: 'none' })],
    ['a snapshot with a bad queued item', 'rxsync:outbox:snapshot', snapshot({ queue: [bad({ retryCount: null })] })],
    ['a snapshot with a good dead letter, then a bad one', 'rxsync:outbox:snapshot', snapshot({ failed: [bad({}), bad({ id: 'bad2', data: null })] })],
    ['a snapshot whose unread list holds text', 'rxsync:outbox:snapshot', snapshot({ unread: [1, 'two'] })],
    ['a snapshot whose id assignments are not a list', 'rxsync:outbox:snapshot', snapshot({ ids: 'none' })],
    ['a snapshot with a good id assignment, then a bad one', 'rxsync:outbox:snapshot', snapshot({ ids: [assignment, { ...assignment, tempId: {} }] })],
    ['a null snapshot', 'rxsync:outbox:snapshot', null],
  ])('%s is kept aside and reported; the writes stored after it load', (_what, key, value) => expectKeptAside(freshStorage(), key, value));

  // localforage stores undefined as null; memoryStorage (or an adapter of the app's own) gives it back as it is.
  it.each([
    ['a snapshot', 'rxsync:outbox:snapshot'],
    ['a segment', 'rxsync:outbox:log:1'],
  ])('%s stored as undefined is kept aside and reported; the writes stored after it load', (_what, key) => expectKeptAside(memoryStorage(), key, undefined));

  it('foreign data that storage will not let it copy aside is left in place, reported at every load, and never written over or deleted', async () => {
    const inner = memoryStorage();
    const storage: SyncStorage = { ...inner, setItem: (key, value) => (key.includes(':corrupt:') ? Promise.reject(new Error('QuotaExceededError (injected)')) : inner.setItem(key, value)) };
    await storage.setItem('rxsync:outbox:log:1', { garbage: 1 });
    await storage.setItem('rxsync:outbox:log:2', { v: 1, entries: [['q', stored]] });
    const first = testEngine({ storage });
    await first.ready;
    expect(first.seen.filter((e) => e.type === 'storage-error')).toEqual([
      {
        type: 'storage-error',
        key: 'rxsync:outbox:log:1',
        keptAs: undefined,
        error: '[rxsync] "rxsync:outbox:log:1" does not hold rxsync outbox data (found {"garbage":1}); left it in place and started without it. Use another storageKey if something else owns these keys.',
      },
    ]);
    await drained(first);
    expect(api.records.has('todos/9')).toBe(true);
    first.destroy();

    const second = testEngine({ storage, startOnline: false });
    await second.ready;
    expect(second.seen.filter((e) => e.type === 'storage-error').map((e) => e.type === 'storage-error' && e.error)).toEqual([
      '[rxsync] "rxsync:outbox:log:1" could not be read at an earlier load; its writes are not loaded, and the key is left in place.',
    ]);
    expect(second.getQueueLength()).toBe(0);
    second.destroy();
    expect(await storage.getItem('rxsync:outbox:log:1')).toEqual({ garbage: 1 });
  });

  it('segments a snapshot covers, left behind by a compaction that could not delete them, are not loaded again', async () => {
    const storage = freshStorage();
    const item = (id: string) => ({ ...stored, id: `k${id}`, data: { id } });
    // The snapshot at seq 5 says the outbox was empty: what segments 3 and 5 added was delivered since.
    await storage.setItem('rxsync:outbox:snapshot', { v: 1, seq: 5, queue: [], failed: [] });
    await storage.setItem('rxsync:outbox:log:3', { v: 1, entries: [['q', item('3')]] });
    await storage.setItem('rxsync:outbox:log:5', { v: 1, entries: [['q', item('5')]] });
    await storage.setItem('rxsync:outbox:log:6', { v: 1, entries: [['q', item('6')]] });
    const engine = testEngine({ storage, startOnline: false });
    await engine.ready;
    expect(await firstValueFrom(engine.queue$)).toEqual([item('6')]);
    engine.destroy();
  });

  it('a readable log segment after a corrupt one still loads', async () => {
    const storage = freshStorage();
    const good = { id: 'k', entity: 'todos', operation: 'create', data: { id: '9' }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 };
    await storage.setItem('rxsync:outbox:log:1', { garbage: 1 });
    await storage.setItem('rxsync:outbox:log:2', { v: 1, entries: [['q', good]] });
    const engine = testEngine({ storage, startOnline: false });
    await engine.ready;
    expect(await firstValueFrom(engine.queue$)).toEqual([good]);
    expect(engine.getStatus().lastError).toMatch(/rxsync:outbox:log:1/);
    engine.destroy();
  });
});

describe('engine: storage failures', () => {
  it.each([
    ['rejects', () => Promise.reject(new Error('database is broken')), 'database is broken'],
    ['gives no list (an adapter that forgot to return it)', () => Promise.resolve(undefined as unknown as string[]), 'keys() gave undefined, not a list of key names'],
    ['gives something other than key names in its list', () => Promise.resolve(['rxsync:outbox:log:1', 7] as unknown as string[]), 'keys() gave ["rxsync:outbox:log:1",7], not a list of key names'],
  ])('storage whose keys() %s: the engine says so, rejects writes, and writes nothing over the stored outbox', async (_how, keys, why) => {
    const storage = freshStorage();
    // A plain SyncStorage (not a localforage instance) keeps the log under the outbox's own keys.
    const plain: SyncStorage = {
      getItem: (k) => storage.getItem(k),
      setItem: (k, v) => storage.setItem(k, v),
      removeItem: (k) => storage.removeItem(k),
      keys: () => storage.keys(),
    };
    const first = testEngine({ storage: plain, startOnline: false });
    await first.write({ entity: 'todos', operation: 'create', data: { id: 'stored' } });
    first.destroy();
    const stored = await storage.getItem('rxsync:outbox:log:1');
    expect(stored).not.toBeNull();
    const unlistable: SyncStorage = {
      getItem: (k) => storage.getItem(k),
      setItem: (k, v) => storage.setItem(k, v),
      removeItem: (k) => storage.removeItem(k),
      keys,
    };
    const second = testEngine({ storage: unlistable, startOnline: false });
    await second.ready;
    expect(second.seen.find((e) => e.type === 'storage-error')).toMatchObject({
      error: expect.stringContaining(`[rxsync] Could not load the stored outbox (${why}), so this engine starts empty and stores nothing`),
    });
    expect(second.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });
    await expect(second.write({ entity: 'todos', operation: 'create', data: { id: 'new' } })).rejects.toMatchObject({ name: 'SyncStorageError' });
    second.destroy();
    expect(await storage.keys()).toEqual(['rxsync:outbox:log:1']);
    expect(await storage.getItem('rxsync:outbox:log:1')).toEqual(stored);
    const third = testEngine({ storage, startOnline: false });
    await third.ready;
    expect((await firstValueFrom(third.queue$)).map((i) => i.data)).toEqual([{ id: 'stored' }]);
    third.destroy();
  });

  it('a failing setItem rejects write() with SyncStorageError, keeps what was persisted, sends nothing unpersisted, and recovers', async () => {
    const storage = freshStorage();
    let full = false;
    const flaky: SyncStorage = {
      getItem: (k) => storage.getItem(k),
      removeItem: (k) => storage.removeItem(k),
      keys: () => storage.keys(),
      setItem: (k, v) => (full ? Promise.reject(new DOMException('quota exceeded', 'QuotaExceededError')) : storage.setItem(k, v)),
    };
    const engine = testEngine({ storage: flaky, startOnline: false });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'kept', title: 'a' } });
    full = true;
    await expect(engine.write({ entity: 'todos', operation: 'update', data: { id: 'kept', title: 'lost' } })).rejects.toMatchObject({
      name: 'SyncStorageError',
      message: expect.stringMatching(/^\[rxsync\] Could not persist the outbox \(quota exceeded\)/),
    });
    await expect(engine.write({ entity: 'todos', operation: 'create', data: { id: 'never' } })).rejects.toMatchObject({ name: 'SyncStorageError' });
    expect((await firstValueFrom(engine.queue$)).map((i) => i.data)).toEqual([{ id: 'kept', title: 'a' }]);
    full = false;
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'later' } });
    engine.network.next(true);
    await drained(engine);
    expect(api.records.get('todos/kept')).toEqual({ id: 'kept', title: 'a' });
    expect(api.records.has('todos/never')).toBe(false);
    expect(api.records.has('todos/later')).toBe(true);
    engine.destroy();
    const reloaded = testEngine({ storage, startOnline: false });
    await reloaded.ready;
    expect((await firstValueFrom(reloaded.queue$)).map((i) => i.data)).not.toContainEqual({ id: 'never' });
    reloaded.destroy();
  });
});
