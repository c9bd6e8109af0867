import localforage from 'localforage';
import { HttpResponse } from 'msw';
import { BehaviorSubject, filter, firstValueFrom, throwError } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSyncEngine, httpTransport, memoryStorage, SyncHttpError, SyncOptionsError, type SyncEngineOptions, type SyncStatusInfo, type SyncStorage } from '../src/index.js';
import { drained, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

const sent = (method: string) => api.requests.filter((r) => r.method === method);

describe('engine: conflicts the server won stay lost', () => {
  it('after a server-wins conflict the next queued write of the record is not moved onto the remote version: it conflicts too', async () => {
    api.records.set('todos/1', { id: '1', title: 'theirs', version: 4 });
    api.override((request) =>
      request.method === 'PATCH' && request.ifMatch === '3' ? HttpResponse.json(api.records.get('todos/1'), { status: 409 }) : undefined,
    );
    const pulled: unknown[] = [];
    const engine = testEngine({ startOnline: false, onPull: (_entity, items) => void pulled.push(...items) });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine', version: 3 } });
    // A second edit of the same record, made on the same version, queued behind the first.
    engine.network.next(true);
    await firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'conflict')));
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', done: true, version: 3 } });
    await drained(engine);
    // Both were sent with If-Match: 3 and both lost: nothing of ours overwrote version 4.
    expect(sent('PATCH').map((r) => r.ifMatch)).toEqual(['3', '3']);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 'theirs', version: 4 });
    expect(engine.seen.filter((e) => e.type === 'conflict')).toHaveLength(2);
    engine.destroy();
  });

  it('a 409 without the current record: client-wins does not PUT a partial update over the whole record; the write is dead-lettered with the reason', async () => {
    api.records.set('notes/n', { id: 'n', title: 'kept', body: 'long text' });
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ error: 'conflict' }, { status: 409 }) : undefined));
    const engine = testEngine();
    await engine.write({ entity: 'notes', operation: 'update', data: { id: 'n', title: 'mine' } });
    const [dead] = await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 1)));
    expect(dead.lastError).toMatch(/without its current record, so client-wins cannot build the whole record/);
    expect(sent('PUT')).toEqual([]);
    expect(api.records.get('notes/n')).toEqual({ id: 'n', title: 'kept', body: 'long text' });
    // The error object is not handed to the app as if it were the record.
    const conflict = engine.seen.find((e) => e.type === 'conflict');
    expect(conflict).toMatchObject({ conflict: { remoteData: undefined } });
    engine.destroy();
  });
});

describe('engine: order and fate per item', () => {
  it('a requeued dead letter goes before the later writes of its record', async () => {
    let refuse = true;
    api.records.set('todos/1', { id: '1' });
    api.override((request) => (refuse && request.method === 'PATCH' ? HttpResponse.json({ error: 'no' }, { status: 400 }) : undefined));
    const engine = testEngine();
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'A' } });
    await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 1)));
    engine.network.next(false);
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'B' } });
    refuse = false;
    await engine.reprocessFailed().catch(() => undefined);
    engine.network.next(true);
    await drained(engine);
    expect(sent('PATCH').slice(1).map((r) => (r.body as { title: string }).title)).toEqual(['A', 'B']);
    expect(api.records.get('todos/1')).toMatchObject({ title: 'B' });
    engine.destroy();
  });

  it('a dead letter requeued while a later write of its record is in flight goes after it, never beside it', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    api.records.set('todos/1', { id: '1' });
    api.override(async (request, attempt) => {
      if (request.method !== 'PATCH') return undefined;
      const title = (request.body as { title: string }).title;
      if (title === 'A' && attempt === 1) return HttpResponse.json({ error: 'no' }, { status: 400 });
      if (title === 'B') await released;
      return undefined;
    });
    // A clock that moves on with every reading, so that B is written strictly after A.
    let clock = Date.now();
    const inner = memoryStorage();
    let storedOnce: (() => void) | undefined;
    const storage: SyncStorage = {
      ...inner,
      setItem: async (key, value) => {
        const stored = await inner.setItem(key, value);
        storedOnce?.();
        return stored;
      },
    };
    const engine = testEngine({ now: () => ++clock, storage });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'A' } });
    await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 1)));
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'B' } });
    await firstValueFrom(engine.status$.pipe(filter((s) => s.inFlight === 1)));
    // reprocessFailed() resolves once the requeued write is delivered: only after B's answer.
    const requeueStored = new Promise<void>((resolve) => (storedOnce = resolve));
    const reprocessed = engine.reprocessFailed();
    const requeued = await firstValueFrom(engine.queue$.pipe(filter((queue) => queue.length === 2)));
    expect(requeued.map((item) => (item.data as { title: string }).title)).toEqual(['B', 'A']);
    // Durable now, so it could be sent: it still waits for B.
    await requeueStored;
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.getStatus()).toMatchObject({ queueLength: 2, inFlight: 1 });
    expect(sent('PATCH')).toHaveLength(2);
    release();
    await reprocessed;
    await drained(engine);
    expect(sent('PATCH').map((r) => (r.body as { title: string }).title)).toEqual(['A', 'B', 'A']);
    expect(api.records.get('todos/1')).toMatchObject({ title: 'A' });
    engine.destroy();
  });

  it('batch mode: a client-wins re-send that fails dead-letters only its own write', async () => {
    api.records.set('notes/c', { id: 'c', v: 'server' });
    api.override((request) => {
      if (request.path === '/notes/c' && request.method === 'PATCH') return HttpResponse.json(api.records.get('notes/c'), { status: 409 });
      if (request.path === '/notes/c' && request.method === 'PUT') return HttpResponse.json({ error: 'no' }, { status: 400 });
      return undefined;
    });
    const engine = testEngine({ startOnline: false, batchSize: 5 });
    await engine.write({ entity: 'notes', operation: 'create', data: { id: 'a' } });
    await engine.write({ entity: 'notes', operation: 'update', data: { id: 'c', v: 'mine' } });
    await engine.write({ entity: 'notes', operation: 'create', data: { id: 'b' } });
    engine.network.next(true);
    await drained(engine);
    expect(engine.getStatus()).toMatchObject({ failedCount: 1, queueLength: 0 });
    expect((await firstValueFrom(engine.failed$)).map((i) => (i.data as { id: string }).id)).toEqual(['c']);
    expect(engine.seen.filter((e) => e.type === 'dead-lettered').map((e) => e.type === 'dead-lettered' && (e.item.data as { id: string }).id)).toEqual(['c']);
    expect(api.records.has('notes/a') && api.records.has('notes/b')).toBe(true);
    engine.destroy();
  });
});

describe('engine: outages and hung requests', () => {
  it('no answer at all never dead-letters a write, however long it lasts; only server answers count against maxRetries', async () => {
    let failures = 12;
    api.override(() => (failures-- > 0 ? HttpResponse.error() : undefined));
    const engine = testEngine({ maxRetries: 1 });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await drained(engine);
    expect(api.records.get('todos/1')).toEqual({ id: '1' });
    expect(engine.getStatus()).toMatchObject({ failedCount: 0 });
    expect(engine.seen.filter((e) => e.type === 'retried').length).toBeGreaterThanOrEqual(12);
    engine.destroy();
  });

  it('a transport of the app\'s own that throws a transient SyncHttpError (503) counts it as an answer: the write is dead-lettered after maxRetries', async () => {
    let attempts = 0;
    const engine = testEngine({
      maxRetries: 2,
      transport: { push: () => throwError(() => new SyncHttpError(`[rxsync] busy (attempt ${++attempts})`, 503)), pull: () => throwError(() => new Error('no pulls here')) },
    });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await drained(engine);
    expect(attempts).toBe(3);
    expect(engine.getStatus()).toMatchObject({ queueLength: 0, failedCount: 1, lastError: expect.stringContaining('busy (attempt 3)') });
    engine.destroy();
  });

  it('a request that hangs is aborted after requestTimeoutMs and sent again with the same key', async () => {
    api.override((_request, attempt) => (attempt === 1 ? new Promise<Response>(() => undefined) : undefined));
    const engine = testEngine({ requestTimeoutMs: 30 });
    const item = await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await drained(engine);
    expect(sent('POST').map((r) => r.key)).toEqual([item.id, item.id]);
    expect(engine.seen.find((e) => e.type === 'retried')).toMatchObject({ error: expect.stringMatching(/No answer to the create of todos "1" within 30 ms/) });
    engine.destroy();
  });

  it('nextRetryAt is the earliest retry actually waiting, and goes away when its item is dead-lettered', async () => {
    api.override((request) => (request.method === 'POST' ? HttpResponse.json({ error: 'busy' }, { status: 503, headers: { 'Retry-After': '0.05' } }) : undefined));
    const engine = testEngine({ maxRetries: 1 });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    const waiting = await firstValueFrom(engine.status$.pipe(filter((s) => s.nextRetryAt !== undefined)));
    expect(Date.parse(waiting.nextRetryAt!)).toBeGreaterThan(Date.now() - 1000);
    await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 1)));
    expect(engine.getStatus().nextRetryAt).toBeUndefined();
    engine.destroy();
  });

  it('reconnecting never shows "offline" with something in flight', async () => {
    const engine = testEngine({ startOnline: false });
    const seen: SyncStatusInfo[] = [];
    engine.status$.subscribe((s) => seen.push(s));
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    engine.network.next(true);
    await drained(engine);
    expect(seen.filter((s) => s.status === 'offline' && s.inFlight > 0)).toEqual([]);
    expect(seen.some((s) => s.inFlight === 1 && s.status === 'syncing')).toBe(true);
    engine.destroy();
  });
});

describe('engine: hand-over between engines on one outbox', () => {
  it('a new engine on another localforage instance of the same database, right after destroy(), delivers the writes the first one accepted', async () => {
    const name = `handover-${Date.now()}`;
    const online$ = new BehaviorSubject(false);
    const options = (): SyncEngineOptions<'todos'> => ({
      entities: { todos: { endpoint: '/todos' } },
      transport: httpTransport({ baseUrl: API }),
      storage: localforage.createInstance({ name }),
      online$,
      retryBaseDelayMs: 1,
    });
    const first = createSyncEngine(options());
    await first.ready;
    const a = first.write({ entity: 'todos', operation: 'create', data: { id: 'a' } });
    const b = first.write({ entity: 'todos', operation: 'create', data: { id: 'b' } });
    first.destroy();
    const second = createSyncEngine(options());
    await Promise.all([a, b]);
    await second.write({ entity: 'todos', operation: 'create', data: { id: 'c' } });
    online$.next(true);
    await drained(second);
    expect([...api.records.keys()].sort()).toEqual(['todos/a', 'todos/b', 'todos/c']);
    second.destroy();
  });

  it('a second live engine on the same outbox says "waiting", counts its writes, and takes over when the first is destroyed', async () => {
    const storage = localforage.createInstance({ name: `waiting-${Date.now()}` });
    const first = testEngine({ storage, startOnline: false });
    await first.ready;
    const second = testEngine({ storage, startOnline: false });
    const written = second.write({ entity: 'todos', operation: 'create', data: { id: 'w' } });
    expect(second.getStatus()).toMatchObject({ status: 'waiting', queueLength: 1 });
    first.destroy();
    await written;
    await second.ready;
    expect(second.getStatus()).toMatchObject({ status: 'offline', queueLength: 1 });
    second.destroy();
  });

  it('a write on writes$ just before destroy(), while the outbox is still loading, is stored and sent by the next engine', async () => {
    const storage = localforage.createInstance({ name: `early-${Date.now()}` });
    const first = testEngine({ storage, startOnline: false });
    first.writes$.next({ entity: 'todos', operation: 'create', data: { id: 'early' } });
    first.destroy();
    const next = testEngine({ storage });
    await next.ready;
    await drained(next);
    expect(api.records.get('todos/early')).toEqual({ id: 'early' });
    next.destroy();
  });
});

describe('engine: what it tells', () => {
  it('a dead letter keeps what the server said, as a sentence, before "It stays in failed$"', async () => {
    api.override(() => new Response('Insert failed, duplicate id', { status: 500 }));
    const engine = testEngine({ maxRetries: 1 });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    const [dead] = await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 1)));
    expect(dead.lastError).toMatch(/Last error: .*500.*Insert failed, duplicate id.*\. It stays in failed\$/);
    engine.destroy();
  });

  it('without a storage option and without IndexedDB or localStorage, it says on events$ that the outbox lives in memory', async () => {
    vi.stubGlobal('indexedDB', undefined);
    try {
      const engine = createSyncEngine({ entities: { todos: { endpoint: '/todos' } }, transport: httpTransport({ baseUrl: API }), online$: new BehaviorSubject(false) });
      const notice = firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'notice')));
      await expect(notice).resolves.toMatchObject({ message: expect.stringMatching(/the outbox lives in memory and is lost when the process ends/) });
      engine.destroy();
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('engine: options', () => {
  const base = { entities: { todos: { endpoint: '/todos' } }, transport: httpTransport({ baseUrl: API }) };
  it.each([
    ['concurrency NaN', { concurrency: Number.NaN }, /options\.concurrency must be a number/],
    ['batchSize 0', { batchSize: 0 }, /options\.batchSize must be a number from 1/],
    ['maxRetries 1.5', { maxRetries: 1.5 }, /options\.maxRetries must be a whole number/],
    ['retryJitter 2', { retryJitter: 2 }, /options\.retryJitter must be a number from 0 to 1/],
    ['no transport', { transport: undefined }, /options\.transport must be a transport with push\(\) and pull\(\)/],
    ['no entities', { entities: {} }, /options\.entities must name at least one entity/],
    ['an entity without endpoint', { entities: { todos: {} } }, /options\.entities\.todos needs an endpoint/],
    ['an unknown strategy', { entities: { todos: { endpoint: '/t', conflictStrategy: 'mine-wins' } } }, /conflictStrategy must be one of/],
  ])('%s throws a SyncOptionsError at construction that says what to pass', (_name, extra, message) => {
    const build = () => createSyncEngine({ ...base, ...extra } as unknown as SyncEngineOptions<'todos'>);
    expect(build).toThrow(SyncOptionsError);
    expect(build).toThrow(message);
  });
});
