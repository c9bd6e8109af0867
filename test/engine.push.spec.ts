import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import { memoryStorage, type SyncStorage } from '../src/index.js';
import { drained, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';
import { SLOW_TEST_MS } from './support/slowTest.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

const todo = (id: string, extra: object = {}) => ({ entity: 'todos' as const, operation: 'create' as const, data: { id, title: `t${id}`, ...extra } });

describe('engine: pushing the outbox', () => {
  it('delivers a write with POST, Idempotency-Key = the item id, and leaves an idle engine', async () => {
    const engine = testEngine();
    const queued = await engine.write(todo('1'));
    await drained(engine);
    expect(api.requests).toEqual([{ method: 'POST', path: '/todos', key: queued.id, ifMatch: null, body: { id: '1', title: 't1' } }]);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 't1' });
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0, inFlight: 0, failedCount: 0 });
    expect(engine.seen.filter((e) => e.type === 'pushed')).toHaveLength(1);
    engine.destroy();
  });

  it('update is a PATCH of the record, delete a DELETE; a version in the data becomes If-Match', async () => {
    api.records.set('todos/7', { id: '7', title: 'old', version: 3 });
    const engine = testEngine();
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '7', title: 'new', version: 3 } });
    await drained(engine);
    await engine.delete('todos', '7');
    await drained(engine);
    expect(api.requests.map((r) => [r.method, r.path, r.ifMatch])).toEqual([
      ['PATCH', '/todos/7', '3'],
      ['DELETE', '/todos/7', null],
    ]);
    expect(api.records.has('todos/7')).toBe(false);
    engine.destroy();
  });

  it('1,000 write() calls started at once are all queued, and all delivered exactly once', async () => {
    // In batches: what is tested is the queueing of many writes at once, not 1,000 round trips.
    const engine = testEngine({ startOnline: false, batchSize: 50 });
    const writes = Array.from({ length: 1000 }, (_, i) => engine.write(todo(String(i))));
    await Promise.all(writes);
    expect(engine.getQueueLength()).toBe(1000);
    expect(api.requests).toHaveLength(0);
    engine.network.next(true);
    const result = await engine.flush();
    expect(result).toMatchObject({ success: true, pushed: 1000, errors: 0 });
    expect(api.records.size).toBe(1000);
    expect([...api.applied.values()].every((n) => n === 1)).toBe(true);
    expect(api.requests).toHaveLength(1000);
    expect(api.batches).toEqual(Array.from({ length: 20 }, () => 50));
    engine.destroy();
  }, SLOW_TEST_MS);

  it('writes made while a flush is in flight are kept and sent afterwards', async () => {
    const engine = testEngine();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    api.override(async (request) => {
      if (request.body && (request.body as { id: string }).id === 'a') await gate;
      return undefined;
    });
    await engine.write(todo('a'));
    await firstValueFrom(engine.status$.pipe(filter((s) => s.inFlight === 1)));
    const during = await Promise.all([engine.write(todo('b')), engine.write({ entity: 'todos', operation: 'update', data: { id: 'a', done: true } })]);
    release();
    await drained(engine);
    expect(during).toHaveLength(2);
    expect(api.records.get('todos/a')).toEqual({ id: 'a', title: 'ta', done: true });
    expect(api.records.get('todos/b')).toEqual({ id: 'b', title: 'tb' });
    // per record order: the PATCH of "a" only after its POST
    expect(api.requests.filter((r) => r.path.startsWith('/todos')).map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['POST /todos', 'PATCH /todos/a']),
    );
    const methodsForA = api.requests.filter((r) => r.path === '/todos/a' || (r.body as { id?: string })?.id === 'a').map((r) => r.method);
    expect(methodsForA).toEqual(['POST', 'PATCH']);
    engine.destroy();
  });

  it('sends nothing while offline, says so in status$, and flushes by itself on reconnect', async () => {
    const engine = testEngine({ startOnline: false });
    await engine.write(todo('1'));
    expect(engine.getStatus()).toMatchObject({ status: 'offline', online: false, queueLength: 1 });
    expect(await engine.flush()).toMatchObject({ success: false, pushed: 0 });
    expect(api.requests).toHaveLength(0);
    engine.network.next(true);
    await drained(engine);
    expect(api.records.has('todos/1')).toBe(true);
    expect(engine.getStatus().status).toBe('idle');
    engine.destroy();
  });

  it('retries a 503 with backoff, the same Idempotency-Key every time, and reports each retry', async () => {
    api.override((_request, attempt) => (attempt <= 2 ? HttpResponse.json({}, { status: 503 }) : undefined));
    const engine = testEngine({ retryBaseDelayMs: 10, retryMaxDelayMs: 1000 });
    const queued = await engine.write(todo('1'));
    await drained(engine);
    expect(api.requests.map((r) => r.key)).toEqual([queued.id, queued.id, queued.id]);
    const retries = engine.seen.filter((e) => e.type === 'retried');
    expect(retries.map((e) => e.type === 'retried' && [e.attempt, e.delayMs])).toEqual([
      [1, 10],
      [2, 20],
    ]);
    expect(api.applied.get(queued.id)).toBe(1);
    engine.destroy();
  });

  it('honours Retry-After on a 429, and shows the next retry time in status$', async () => {
    api.override((_request, attempt) =>
      // Decimal seconds, which the engine reads too, so that the test waits 50 ms rather than a whole second.
      attempt === 1 ? HttpResponse.json({}, { status: 429, headers: { 'Retry-After': '0.05' } }) : undefined,
    );
    const engine = testEngine();
    const statuses: (string | undefined)[] = [];
    engine.status$.subscribe((s) => statuses.push(s.nextRetryAt));
    await engine.write(todo('1'));
    await drained(engine);
    const retry = engine.seen.find((e) => e.type === 'retried');
    expect(retry).toMatchObject({ attempt: 1, delayMs: 50 });
    expect(statuses.some((at) => at !== undefined)).toBe(true);
    expect(engine.getStatus().nextRetryAt).toBeUndefined();
    engine.destroy();
  });

  it('a network error is transient: retried, then delivered', async () => {
    api.override((_request, attempt) => (attempt === 1 ? HttpResponse.error() : undefined));
    const engine = testEngine();
    await engine.write(todo('1'));
    await drained(engine);
    expect(engine.seen.find((e) => e.type === 'retried')).toMatchObject({ error: expect.stringContaining('Network error') });
    expect(api.records.has('todos/1')).toBe(true);
    engine.destroy();
  });

  it('a write retried, then delivered before its retry was stored, still counts as pushed in the flush', async () => {
    const inner = memoryStorage();
    let holding = false;
    let release!: () => void;
    const stored = new Promise<void>((resolve) => (release = resolve));
    // The retry is stored only after its re-send was acked: what it stored must not read as the write leaving unsent.
    const storage: SyncStorage = {
      ...inner,
      setItem: async (key, value) => {
        if (holding && key.includes(':outbox:')) await stored;
        return inner.setItem(key, value);
      },
    };
    api.override((_request, attempt) => (attempt === 1 ? HttpResponse.json({}, { status: 502 }) : undefined));
    const engine = testEngine({ storage, startOnline: false });
    await engine.write(todo('a'));
    holding = true;
    engine.network.next(true);
    const pushed = firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'pushed')));
    const flushed = engine.flush();
    await pushed;
    release();
    expect(await flushed).toMatchObject({ success: true, pushed: 1, errors: 0 });
    expect(engine.seen.map((e) => e.type).filter((t) => t === 'retried' || t === 'pushed')).toEqual(['retried', 'pushed']);
    engine.destroy();
  });

  it('a permanent 4xx goes to the dead-letter list at once; reprocessFailed() sends it again', async () => {
    let refuse = true;
    api.override(() => (refuse ? HttpResponse.json({ error: 'title too long' }, { status: 400 }) : undefined));
    const engine = testEngine();
    await engine.write(todo('1'));
    const failed = await firstValueFrom(engine.failed$.pipe(filter((items) => items.length === 1)));
    expect(failed[0].lastError).toMatch(/^\[rxsync\] The server refused the create of todos "1" with 400: .*title too long/);
    expect(api.requests).toHaveLength(1);
    expect(engine.getStatus()).toMatchObject({ status: 'error', failedCount: 1, queueLength: 0 });
    refuse = false;
    await engine.reprocessFailed();
    expect(engine.getStatus()).toMatchObject({ status: 'idle', failedCount: 0 });
    expect(api.records.has('todos/1')).toBe(true);
    engine.destroy();
  });

  it('after maxRetries transient failures the item is dead-lettered, not dropped', async () => {
    api.override(() => HttpResponse.json({}, { status: 500 }));
    const engine = testEngine({ maxRetries: 2 });
    await engine.write(todo('1'));
    const result = await engine.flush();
    expect(result).toMatchObject({ success: false, pushed: 0, errors: 1 });
    expect(api.requests).toHaveLength(3);
    expect(engine.getStatus()).toMatchObject({ failedCount: 1, status: 'error' });
    const [dead] = await firstValueFrom(engine.failed$);
    expect(dead).toMatchObject({ retryCount: 2, lastError: expect.stringMatching(/Gave up on the create of todos "1" after 2 retries/) });
    engine.destroy();
  });

  it('one failing record does not block the records queued behind it', async () => {
    api.override((request) => ((request.body as { id?: string })?.id === 'stuck' ? HttpResponse.json({}, { status: 503 }) : undefined));
    const engine = testEngine({ concurrency: 1, retryBaseDelayMs: 50, retryMaxDelayMs: 50, maxRetries: 100 });
    await engine.write(todo('stuck'));
    await Promise.all(['a', 'b', 'c'].map((id) => engine.write(todo(id))));
    await firstValueFrom(engine.status$.pipe(filter((s) => s.queueLength === 1)));
    expect([...api.records.keys()].sort()).toEqual(['todos/a', 'todos/b', 'todos/c']);
    expect(engine.getStatus().queueLength).toBe(1);
    engine.destroy();
  });

  it('destroy() aborts the request in flight, completes every stream, and is idempotent', async () => {
    let aborted!: () => void;
    const wasAborted = new Promise<void>((resolve) => (aborted = resolve));
    api.override(
      () =>
        new Promise<Response>(() => {
          /* never answers */
        }),
    );
    const { server } = api;
    server.events.on('request:start', ({ request }) => request.signal.addEventListener('abort', () => aborted()));
    const engine = testEngine();
    await engine.write(todo('1'));
    await firstValueFrom(engine.status$.pipe(filter((s) => s.inFlight === 1)));
    const completed: string[] = [];
    const streams: Record<string, Observable<unknown>> = { status$: engine.status$, queue$: engine.queue$, events$: engine.events$, failed$: engine.failed$, conflicts$: engine.conflicts$, pulled$: engine.pulled$ };
    for (const [name, stream] of Object.entries(streams)) {
      stream.subscribe({ complete: () => completed.push(name) });
    }
    engine.destroy();
    engine.destroy();
    await wasAborted;
    expect(completed.sort()).toEqual(['conflicts$', 'events$', 'failed$', 'pulled$', 'queue$', 'status$']);
    await expect(engine.write(todo('2'))).rejects.toMatchObject({ name: 'SyncInputError', message: expect.stringMatching(/^\[rxsync\] write\(\) was called after destroy/) });
    server.events.removeAllListeners();
  });

  it('clearQueue() stops deliveries in flight: the request is aborted and nothing of it is sent again', async () => {
    let aborted!: () => void;
    const wasAborted = new Promise<void>((resolve) => (aborted = resolve));
    api.override(() => new Promise<Response>(() => {}));
    api.server.events.on('request:start', ({ request }) => request.signal.addEventListener('abort', () => aborted()));
    const engine = testEngine();
    await engine.write(todo('1'));
    await firstValueFrom(engine.status$.pipe(filter((s) => s.inFlight === 1)));
    await engine.clearQueue();
    await wasAborted;
    api.override(undefined);
    await engine.write(todo('2'));
    await drained(engine);
    expect(api.requests.map((r) => (r.body as { id: string }).id)).toEqual(['1', '2']);
    engine.destroy();
    api.server.events.removeAllListeners();
  });

  it('status$ emits the current status synchronously on subscribe, and onStatusChange mirrors it', async () => {
    const engine = testEngine({ startOnline: false });
    let first: unknown;
    engine.status$.subscribe((s) => (first ??= s)).unsubscribe();
    expect(first).toEqual({ status: 'offline', online: false, queueLength: 0, inFlight: 0, failedCount: 0 });
    const seen: number[] = [];
    const stop = engine.onStatusChange((s) => seen.push(s.queueLength));
    await engine.write(todo('1'));
    stop();
    await engine.write(todo('2'));
    expect(seen).toEqual([0, 1]);
    engine.destroy();
  });

  it('reports to the telemetry client, and a throwing client does not stop the engine', async () => {
    const tracked: [string, string, string, unknown][] = [];
    const engine = testEngine({
      productId: 'my-app',
      telemetryClient: {
        trackEvent: (category, source, name, data) => {
          tracked.push([category, source, name, data]);
          if (name === 'pushed') throw new Error('telemetry down');
        },
      },
    });
    await engine.write(todo('1'));
    await drained(engine);
    expect(tracked[0]).toEqual(['rxsync', 'my-app', 'pushed', { tags: { entity: 'todos', operation: 'create' }, metrics: { status: 201, retryCount: 0 } }]);
    expect(engine.seen.find((e) => e.type === 'callback-error')).toMatchObject({ callback: 'telemetryClient', error: 'telemetry down' });
    await engine.write(todo('2'));
    await drained(engine);
    expect(api.records.size).toBe(2);
    engine.destroy();
  });

  it('clearQueue() empties the queue and the dead-letter list, durably', async () => {
    const engine = testEngine({ startOnline: false });
    await engine.write(todo('1'));
    await engine.write(todo('2'));
    await engine.clearQueue();
    expect(engine.getQueueLength()).toBe(0);
    engine.network.next(true);
    expect(await engine.flush()).toMatchObject({ success: true, pushed: 0 });
    expect(api.requests).toHaveLength(0);
    engine.destroy();
  });

  it('a create without an id, written again after clearQueue() took it out unsent, is queued and sent', async () => {
    // An identical id-less create is taken for a double submission only while the first is queued.
    const milk = { entity: 'todos' as const, operation: 'create' as const, data: { title: 'milk' } };
    const engine = testEngine({ startOnline: false });
    await engine.write(milk);
    await engine.clearQueue();
    await engine.write(milk);
    expect(engine.getQueueLength()).toBe(1);
    engine.network.next(true);
    expect(await engine.flush()).toMatchObject({ success: true, pushed: 1 });
    expect(api.requests.map((r) => r.body)).toEqual([{ title: 'milk' }]);
    engine.destroy();
  });
});

describe('engine: batched push (batchSize > 1)', () => {
  it('sends writes in batches; one refused or failing item does not fail the others', async () => {
    api.override((request, attempt) => {
      const id = (request.body as { id?: string } | undefined)?.id;
      if (id === 'bad') return HttpResponse.json({ error: 'invalid' }, { status: 400 });
      if (id === 'flaky' && attempt === 1) return HttpResponse.json({}, { status: 503 });
      return undefined;
    });
    const engine = testEngine({ startOnline: false, batchSize: 10 });
    const ids = [...Array.from({ length: 23 }, (_, i) => String(i)), 'bad', 'flaky'];
    await Promise.all(ids.map((id) => engine.write(todo(id))));
    engine.network.next(true);
    const result = await engine.flush();
    expect(result).toMatchObject({ success: false, pushed: 24, errors: 1 });
    expect(api.batches).toEqual([10, 10, 5]);
    expect(api.records.size).toBe(24);
    expect([...api.applied.values()].every((n) => n === 1)).toBe(true);
    expect((await firstValueFrom(engine.failed$)).map((i) => (i.data as { id: string }).id)).toEqual(['bad']);
    engine.destroy();
  });

  it('a transient failure of the whole batch retries the batch with backoff', async () => {
    let failures = 1;
    api.server.use(
      http.post(`${API}/_batch`, () => (failures-- > 0 ? HttpResponse.json({}, { status: 502 }) : undefined)),
    );
    const engine = testEngine({ startOnline: false, batchSize: 5 });
    await Promise.all(['a', 'b', 'c'].map((id) => engine.write(todo(id))));
    engine.network.next(true);
    expect(await engine.flush()).toMatchObject({ success: true, pushed: 3 });
    expect(engine.seen.filter((e) => e.type === 'retried')).toHaveLength(3);
    expect(api.records.size).toBe(3);
    engine.destroy();
  });

  it('a server without a batch endpoint gets the writes one by one', async () => {
    api.server.use(http.post(`${API}/_batch`, () => HttpResponse.json({ error: 'no such route' }, { status: 404 })));
    const engine = testEngine({ startOnline: false, batchSize: 5 });
    await Promise.all(['a', 'b'].map((id) => engine.write(todo(id))));
    engine.network.next(true);
    expect(await engine.flush()).toMatchObject({ success: true, pushed: 2 });
    expect(api.requests.map((r) => r.method)).toEqual(['POST', 'POST']);
    engine.destroy();
  });
});
