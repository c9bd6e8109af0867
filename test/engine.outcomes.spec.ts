import { HttpResponse } from 'msw';
import { filter, firstValueFrom, NEVER, of, throwError } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SyncHttpError, SyncInputError, type PushRequest, type SyncEngineOptions, type SyncResult, type SyncEvent, type SyncTransport, type TransportResponse } from '../src/index.js';
import { drained, testEngine } from './support/engineHarness.js';
import { FaultyStorage, storageDevice } from './reliability/faultyStorage.js';
import { restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

const todo = (id: string) => ({ entity: 'todos' as const, operation: 'create' as const, data: { id, title: `t${id}` } });
const created = (request: PushRequest): TransportResponse => ({ status: 201, body: request.item.data });
/** A transport of the app's own: `push` and `pushBatch` as given, pulls never asked for. */
const ownTransport = (push: SyncTransport['push'], pushBatch?: SyncTransport['pushBatch']): SyncTransport => ({
  push,
  ...(pushBatch ? { pushBatch } : {}),
  pull: () => NEVER,
});
const errorsOf = (seen: SyncEvent[], type: 'retried' | 'dead-lettered') =>
  seen.flatMap((e) => (e.type === type ? [e.error] : []));
const deadLetter = async (engine: ReturnType<typeof testEngine>) => (await firstValueFrom(engine.failed$.pipe(filter((f) => f.length > 0))))[0];
const idOf = (request: PushRequest): string => String((request.item.data as { id: string }).id);
/** Writes todos "1" and "2" while offline, then goes online: they go as one batch of two over `transport`. */
async function batchOfTwo(transport: SyncTransport, options: Partial<SyncEngineOptions<'todos' | 'notes'>> = {}) {
  const engine = testEngine({ startOnline: false, batchSize: 2, transport, ...options });
  await engine.write(todo('1'));
  await engine.write(todo('2'));
  engine.network.next(true);
  return engine;
}

/** Holds every POST until the returned function is called. */
function holdPosts(): () => void {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  api.override(async (request) => {
    if (request.method === 'POST') await released;
    return undefined;
  });
  return release;
}

/** Starts a flush; resolves once it has taken in the queue (after the engine's ready promise let it go on), with its result to come. */
async function flushStarted(engine: ReturnType<typeof testEngine>): Promise<{ flushed: Promise<SyncResult> }> {
  const flushed = engine.flush();
  await new Promise((resolve) => setImmediate(resolve));
  return { flushed };
}

describe('engine: a request that got no answer', () => {
  it('a transport of the app\'s own that throws something other than a SyncHttpError (a socket error) gets no answer: retried past maxRetries, each retry saying so as one sentence', async () => {
    let attempts = 0;
    const engine = testEngine({
      maxRetries: 1,
      transport: ownTransport((request) => (++attempts <= 3 ? throwError(() => new Error('socket v1.2 hang up ')) : of(created(request)))),
    });
    await engine.write(todo('1'));
    await drained(engine);
    expect(attempts).toBe(4);
    expect(engine.getStatus()).toMatchObject({ failedCount: 0, queueLength: 0 });
    expect(errorsOf(engine.seen, 'retried')).toEqual(Array(3).fill('[rxsync] Network error sending the create of todos "1": socket v1.2 hang up.'));
    engine.destroy();
  });

  it('a create without an id is named without one', async () => {
    let attempts = 0;
    const engine = testEngine({
      transport: ownTransport((request) => (++attempts === 1 ? throwError(() => new Error('reset')) : of(created(request)))),
    });
    await engine.write({ entity: 'todos', operation: 'create', data: { title: 'no id yet' } });
    await drained(engine);
    expect(errorsOf(engine.seen, 'retried')).toEqual(['[rxsync] Network error sending the create of todos: reset.']);
    engine.destroy();
  });

  it('a batch names itself by its size', async () => {
    let attempts = 0;
    const engine = await batchOfTwo(
      ownTransport(
        () => throwError(() => new Error('one by one is not expected here')),
        (requests) => (++attempts === 1 ? throwError(() => new Error('connection reset!')) : of(requests.map(created))),
      ),
    );
    await drained(engine);
    expect(errorsOf(engine.seen, 'retried')).toEqual(Array(2).fill('[rxsync] Network error sending a batch of 2 writes: connection reset!'));
    expect(engine.getStatus()).toMatchObject({ failedCount: 0, queueLength: 0 });
    engine.destroy();
  });
});

describe('engine: what a dead letter says', () => {
  it('a batch answered with transient failures until maxRetries: every write of it is a dead letter saying so; none is sent again one by one', async () => {
    let singles = 0;
    let batches = 0;
    const engine = await batchOfTwo(
      ownTransport(
        () => (singles++, NEVER),
        () => (batches++, throwError(() => new SyncHttpError('[rxsync] The batch endpoint is busy', 503))),
      ),
      { maxRetries: 2 },
    );
    await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 2)));
    expect([batches, singles]).toEqual([3, 0]);
    expect(errorsOf(engine.seen, 'dead-lettered')).toEqual(
      ['1', '2'].map((id) => `[rxsync] Gave up on the create of todos "${id}" after 2 retries. Last error: The batch endpoint is busy. It stays in failed$; call reprocessFailed() to try again.`),
    );
    engine.destroy();
  });

  it('the retries a batch used count when its writes go on one by one: maxRetries is per write, not per request', async () => {
    const singles = new Map<string, number>();
    let batches = 0;
    const engine = await batchOfTwo(
      ownTransport(
        (request) => {
          const id = idOf(request);
          singles.set(id, (singles.get(id) ?? 0) + 1);
          return throwError(() => new SyncHttpError('[rxsync] busy', 503));
        },
        // One transient failure (a retry counted for both writes), then no batch endpoint at all.
        () => throwError(() => (++batches === 1 ? new SyncHttpError('[rxsync] batch busy', 503) : new SyncHttpError('[rxsync] no batch endpoint', 404))),
      ),
      { maxRetries: 2 },
    );
    await firstValueFrom(engine.failed$.pipe(filter((f) => f.length === 2)));
    expect(batches).toBe(2);
    expect(Object.fromEntries(singles)).toEqual({ 1: 2, 2: 2 });
    engine.destroy();
  });

  it('a write the transport cannot send at all (a SyncInputError) is a dead letter with the transport\'s words, at once', async () => {
    let attempts = 0;
    const engine = testEngine({
      transport: ownTransport(() => (attempts++, throwError(() => new SyncInputError('[rxsync] The record has a field this API cannot store.')))),
    });
    await engine.write(todo('1'));
    expect((await deadLetter(engine)).lastError).toBe('[rxsync] The record has a field this API cannot store. It stays in failed$.');
    expect(attempts).toBe(1);
    engine.destroy();
  });
});

describe('engine: answers a transport of the app\'s own cannot give', () => {
  it('push() that gives something other than an answer: the write is a dead letter saying so, at once (not a network error retried for ever)', async () => {
    let attempts = 0;
    const engine = testEngine({ transport: ownTransport(() => (attempts++, of(null as unknown as TransportResponse))) });
    await engine.write(todo('1'));
    expect((await deadLetter(engine)).lastError).toBe(
      '[rxsync] The transport\'s push() gave null for the create of todos "1", not an answer ({ status, body }). Fix the transport, then call reprocessFailed(). It stays in failed$.',
    );
    expect(attempts).toBe(1);
    engine.destroy();
  });

  it.each([
    ['a list one short', (requests: readonly PushRequest[]) => [created(requests[0])], 1],
    ['a list with null in it', (requests: readonly PushRequest[]) => [null, created(requests[1])], 1],
    ['no list at all', () => 'done', 2],
    ['a status that is text', (requests: readonly PushRequest[]) => requests.map((request) => ({ ...created(request), status: '201' })), 2],
  ])('pushBatch() that gives %s: each write it answered is settled once, the others go one by one, and a notice says so', async (_what, answer, unanswered) => {
    const singles: string[] = [];
    const engine = await batchOfTwo(
      ownTransport(
        (request) => (singles.push(idOf(request)), of(created(request))),
        (requests) => of(answer(requests) as TransportResponse[]),
      ),
    );
    await drained(engine);
    expect(engine.seen.filter((e) => e.type === 'pushed').map((e) => e.type === 'pushed' && (e.item.data as { id: string }).id).sort()).toEqual(['1', '2']);
    expect(engine.seen.filter((e) => e.type === 'dead-lettered')).toEqual([]);
    expect(singles).toHaveLength(unanswered);
    expect(engine.seen.find((e) => e.type === 'notice')).toEqual({
      type: 'notice',
      message: `[rxsync] The transport's pushBatch() gave no usable answer ({ status, body }) for ${unanswered} of 2 writes; they are sent one by one.`,
    });
    engine.destroy();
  });

  it('pushBatch() that answers every write: no notice, and nothing is sent alone', async () => {
    const singles: string[] = [];
    const engine = await batchOfTwo(
      ownTransport(
        (request) => (singles.push(idOf(request)), of(created(request))),
        (requests) => of(requests.map(created)),
      ),
    );
    await drained(engine);
    expect(engine.seen.filter((e) => e.type === 'pushed')).toHaveLength(2);
    expect(singles).toEqual([]);
    expect(engine.seen.filter((e) => e.type === 'notice')).toEqual([]);
    engine.destroy();
  });
});

describe('engine: client-wins', () => {
  it('a re-send the server answers with a conflict again is a dead letter: it is not re-sent over and over', async () => {
    api.records.set('notes/c', { id: 'c', v: 'server' });
    api.override((request) =>
      request.path === '/notes/c' && (request.method === 'PATCH' || request.method === 'PUT') ? HttpResponse.json(api.records.get('notes/c'), { status: 409 }) : undefined,
    );
    const engine = testEngine();
    await engine.write({ entity: 'notes', operation: 'update', data: { id: 'c', v: 'mine' } });
    expect((await deadLetter(engine)).lastError).toBe('[rxsync] the update of notes "c" still conflicts after the client-wins re-send; kept as a dead letter.');
    expect(api.requests.map((r) => r.method)).toEqual(['PATCH', 'PUT']);
    engine.destroy();
  });

  it('manual: the record onConflict builds goes as a PUT even when the 409 has no server record (the app made it whole)', async () => {
    api.records.set('todos/1', { id: '1', title: 'theirs', done: true });
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ error: 'conflict' }, { status: 409 }) : undefined));
    const engine = testEngine({
      entities: { todos: { endpoint: '/todos', conflictStrategy: 'manual' }, notes: { endpoint: '/notes' } },
      onConflict: () => ({ id: '1', title: 'merged by the app', done: true }),
    });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    await drained(engine);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 'merged by the app', done: true });
    expect(engine.getStatus()).toMatchObject({ failedCount: 0 });
    engine.destroy();
  });

  it('a create answered 409 without the server\'s record is re-sent whole as a PUT: a create carries the whole record', async () => {
    api.override((request) => (request.method === 'POST' ? HttpResponse.json({ error: 'exists' }, { status: 409 }) : undefined));
    const engine = testEngine();
    await engine.write({ entity: 'notes', operation: 'create', data: { id: 'n', title: 'mine' } });
    await drained(engine);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /notes', 'PUT /notes/n']);
    expect(api.records.get('notes/n')).toEqual({ id: 'n', title: 'mine' });
    expect(engine.getStatus()).toMatchObject({ failedCount: 0 });
    engine.destroy();
  });
});

describe('engine: what the app is handed and told of an answer', () => {
  it('a delete the server answers with the record it deleted reaches the app as a deletion', async () => {
    api.records.set('todos/1', { id: '1', title: 'old' });
    api.override((request) => (request.method === 'DELETE' ? HttpResponse.json({ id: '1', title: 'old' }) : undefined));
    const engine = testEngine();
    const handed = firstValueFrom(engine.pulled$);
    await engine.delete('todos', '1');
    expect((await handed).items).toEqual([{ id: '1', deleted: true }]);
    engine.destroy();
  });

  it('the reason a transport gives for an ack is on the pushed event', async () => {
    const engine = testEngine({ transport: ownTransport(() => of({ status: 202, body: undefined, kind: 'ack', reason: 'queued by the server' })) });
    await engine.write(todo('1'));
    await drained(engine);
    expect(engine.seen.find((e) => e.type === 'pushed')).toMatchObject({ status: 202, reason: 'queued by the server' });
    engine.destroy();
  });
});

describe('engine: the in-flight window', () => {
  it('writes past the window wait in the queue, where a later write of their record still merges into them', async () => {
    const release = holdPosts();
    // concurrency 1 × 4 × batchSize 1: four writes are handed out at a time, one on the wire.
    const engine = testEngine({ concurrency: 1 });
    for (const id of ['1', '2', '3', '4', '5', '6']) await engine.write(todo(id));
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '6', done: true } });
    release();
    await drained(engine);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['1', '2', '3', '4', '5', '6'].map(() => 'POST /todos'));
    expect(api.records.get('todos/6')).toEqual({ id: '6', title: 't6', done: true });
    engine.destroy();
  });

  it('storage refuses a delete that cancelled a queued create: the create is back, and a flush() under way waits for it', async () => {
    const release = holdPosts();
    const storage = new FaultyStorage(storageDevice());
    const engine = testEngine({ storage, concurrency: 1 });
    for (const id of ['1', '2', '3', '4', '5', '6']) await engine.write(todo(id));
    const { flushed } = await flushStarted(engine);
    // Create 6 waits past the window, so the delete cancels it, in a batch storage refuses.
    storage.failNextSetItems = 1;
    await expect(engine.delete('todos', '6')).rejects.toMatchObject({ name: 'SyncStorageError' });
    release();
    expect(await flushed).toMatchObject({ success: true, pushed: 6, errors: 0 });
    expect(api.records.get('todos/6')).toEqual({ id: '6', title: 't6' });
    engine.destroy();
  });

  it('a flush() the app cuts short with clearQueue() counts the cleared writes neither as pushed nor as errors', async () => {
    const release = holdPosts();
    const engine = testEngine({ startOnline: false });
    for (const id of ['1', '2']) await engine.write(todo(id));
    engine.network.next(true);
    const { flushed } = await flushStarted(engine);
    await engine.clearQueue();
    release();
    expect(await flushed).toMatchObject({ success: true, pushed: 0, errors: 0 });
    engine.destroy();
  });

  it('clearQueue() while a write waits for its retry: no retry is shown as waiting any more', async () => {
    api.override((request) => (request.method === 'POST' ? HttpResponse.json({ error: 'busy' }, { status: 503, headers: { 'Retry-After': '60' } }) : undefined));
    const engine = testEngine();
    await engine.write(todo('1'));
    await firstValueFrom(engine.status$.pipe(filter((s) => s.nextRetryAt !== undefined)));
    await engine.clearQueue();
    expect(engine.getStatus().queueLength).toBe(0);
    expect(engine.getStatus().nextRetryAt).toBeUndefined();
    engine.destroy();
  });
});
