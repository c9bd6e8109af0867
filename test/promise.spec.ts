import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import type { SyncStorage } from '../src/index.js';
import { drained, freshStorage, testEngine } from './support/engineHarness.js';
import { restApi } from './support/restApi.js';
import { SLOW_TEST_MS } from './support/slowTest.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

const update = (id: string, data: object) => ({ entity: 'todos' as const, operation: 'update' as const, data: { id, ...data } });
const titleOf = (body: unknown): unknown => (body as { title?: unknown } | undefined)?.title;

/**
 * "No write lost or sent twice, per-record order kept", each in a place where a plausible
 * slip in the engine used to pass the whole suite: a reload, a lost answer, compaction, a
 * failed storage batch.
 */
describe('the promise: nothing lost, nothing sent twice, order per record kept', () => {
  it('after a reload, two stored writes of one record go out one after the other: a 503 on the older never lets it land last', async () => {
    api.records.set('todos/a', { id: 'a', title: 'start' });
    const storage = freshStorage();
    // The first engine's PATCH is told to come back in an hour: it stays in flight, so the
    // next write of the record queues behind it instead of merging into it.
    api.override((request, attempt) =>
      titleOf(request.body) === 'older' && attempt === 1 ? HttpResponse.json({}, { status: 503, headers: { 'Retry-After': '3600' } }) : undefined,
    );
    const first = testEngine({ storage });
    await first.write(update('a', { title: 'older' }));
    await firstValueFrom(first.status$.pipe(filter((s) => s.nextRetryAt !== undefined)));
    await first.write(update('a', { title: 'newer' }));
    expect(first.getQueueLength()).toBe(2);
    first.destroy();

    // After the reload the older PATCH gets one more 503. Its answer is held until the newer
    // PATCH arrives, which must not happen before the older one is done; 50 ms bounds the wait
    // for the request that should never come.
    let newerArrived!: () => void;
    const newer = new Promise<void>((resolve) => (newerArrived = resolve));
    api.override(async (request, attempt) => {
      if (titleOf(request.body) === 'newer') newerArrived();
      if (titleOf(request.body) !== 'older' || attempt !== 2) return undefined;
      await Promise.race([newer, new Promise((resolve) => setTimeout(resolve, 50))]);
      return HttpResponse.json({}, { status: 503 });
    });
    const second = testEngine({ storage });
    await drained(second);
    expect(api.requests.map((r) => `${r.method} ${r.path} ${String(titleOf(r.body))}`)).toEqual([
      'PATCH /todos/a older',
      'PATCH /todos/a older',
      'PATCH /todos/a older',
      'PATCH /todos/a newer',
    ]);
    expect(api.records.get('todos/a')).toEqual({ id: 'a', title: 'newer' });
    second.destroy();
  });

  it('a write whose answer was lost is re-sent after a reload under the same Idempotency-Key, so the server applies it once', async () => {
    api.records.set('todos/k', { id: 'k', title: 'start' });
    // The server applies the first PATCH; its answer never reaches the client. The retry is told
    // to come back in an hour: a server's answer, so it counts, and the reload finds a retried item.
    api.loseAnswers((request, attempt) => request.method === 'PATCH' && attempt === 1);
    api.override((request, attempt) =>
      request.method === 'PATCH' && attempt === 2 ? HttpResponse.json({}, { status: 503, headers: { 'Retry-After': '3600' } }) : undefined,
    );
    const storage = freshStorage();
    const first = testEngine({ storage });
    const queued = await first.write(update('k', { title: 'once' }));
    await firstValueFrom(first.queue$.pipe(filter((queue) => (queue[0]?.retryCount ?? 0) > 0 && api.requests.length === 2)));
    // Storage writes land in order: once this one is durable, so is the retry count before it.
    await first.write({ entity: 'notes', operation: 'create', data: { id: 'barrier' } });
    first.destroy();

    const second = testEngine({ storage });
    await drained(second);
    const sent = api.requests.filter((r) => r.path === '/todos/k');
    expect(sent.map((r) => [r.method, r.key])).toEqual([
      ['PATCH', queued.id],
      ['PATCH', queued.id],
      ['PATCH', queued.id],
    ]);
    const applications = sent.map((r) => r.key).filter((key, i, all) => all.indexOf(key) === i).map((key) => api.applied.get(key!) ?? 0);
    expect(applications).toEqual([1]);
    second.destroy();
  });

  it('compaction whose snapshot cannot be stored (quota) keeps the log it was folding: a reload still has every stored write', async () => {
    const base = freshStorage() as unknown as SyncStorage;
    let snapshotsFail = false;
    const storage: SyncStorage = {
      getItem: (k) => base.getItem(k),
      removeItem: (k) => base.removeItem(k),
      keys: () => base.keys(),
      setItem: (k, v) =>
        snapshotsFail && k.endsWith(':outbox:snapshot') ? Promise.reject(new DOMException('quota exceeded', 'QuotaExceededError')) : base.setItem(k, v),
    };
    const fields = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => update('a', { [`f${from + i}`]: from + i }));
    const first = testEngine({ storage, startOnline: false });
    await first.write({ entity: 'todos', operation: 'create', data: { id: 'a', title: 'many' } });
    // Each write is a log entry; 600 of them stay below the compaction threshold (1,000 entries).
    await Promise.all(fields(0, 600).map((w) => first.write(w)));
    snapshotsFail = true;
    // The next burst takes the log over the threshold: its batch is folded into a snapshot, which fails.
    const outcomes = await Promise.allSettled(fields(600, 1200).map((w) => first.write(w)));
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((o) => (o as PromiseRejectedResult).reason.name === 'SyncStorageError')).toBe(true);
    const stored = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [600 + i] : []));
    first.destroy();

    const second = testEngine({ storage, startOnline: false });
    await second.ready;
    expect(second.getQueueLength()).toBe(1);
    second.network.next(true);
    await drained(second);
    const record = api.records.get('todos/a') ?? {};
    const delivered = [...Array.from({ length: 600 }, (_, i) => i), ...stored].filter((n) => record[`f${n}`] === n);
    expect(delivered).toHaveLength(600 + stored.length);
    expect(record.title).toBe('many');
    second.destroy();
  }, SLOW_TEST_MS);

  it('a storage batch that fails takes back both of two writes merged into one item: neither is ever sent', async () => {
    const base = freshStorage() as unknown as SyncStorage;
    let setItems = 0;
    let releaseFirst!: () => void;
    const firstLands = new Promise<void>((resolve) => (releaseFirst = resolve));
    const storage: SyncStorage = {
      getItem: (k) => base.getItem(k),
      removeItem: (k) => base.removeItem(k),
      keys: () => base.keys(),
      // The first write is held while the next two queue behind it (one batch); that batch fails.
      setItem: async (k, v) => {
        const call = ++setItems;
        if (call === 1) await firstLands;
        if (call === 2) throw new DOMException('quota exceeded', 'QuotaExceededError');
        return base.setItem(k, v);
      },
    };
    const engine = testEngine({ storage, startOnline: false });
    await engine.ready;
    const created = engine.write({ entity: 'todos', operation: 'create', data: { id: 'a', title: 'kept' } });
    const done = engine.write(update('a', { done: true }));
    const noted = engine.write(update('a', { note: 'refused too' }));
    releaseFirst();
    await created;
    await expect(done).rejects.toMatchObject({ name: 'SyncStorageError' });
    await expect(noted).rejects.toMatchObject({ name: 'SyncStorageError' });
    expect(setItems).toBe(2);
    expect((await firstValueFrom(engine.queue$)).map((item) => item.data)).toEqual([{ id: 'a', title: 'kept' }]);

    engine.network.next(true);
    await drained(engine);
    expect(api.records.get('todos/a')).toEqual({ id: 'a', title: 'kept' });
    engine.destroy();
  });

  // Regression: the resolution lived only in memory, so the restarted engine sent the original
  // PATCH again and resolved the conflict afresh.
  it('a client-wins resolution is durable before its PUT is sent: after a crash the item resumes as that PUT, never as the original PATCH', async () => {
    api.records.set('notes/n', { id: 'n', title: 'remote', version: 2 });
    const base = freshStorage() as unknown as SyncStorage;
    let crashed = false;
    const never = new Promise<never>(() => undefined);
    // Once the PUT has reached the server, no storage write ever finishes: the process died.
    const storage: SyncStorage = {
      getItem: (k) => base.getItem(k),
      keys: () => base.keys(),
      removeItem: (k) => (crashed ? never : base.removeItem(k)),
      setItem: (k, v) => (crashed ? never : base.setItem(k, v)),
    };
    // Every PATCH of "n" conflicts; like the reference server, the 409 is not stored under the key.
    api.override((request) => {
      if (request.method === 'PUT') crashed = true;
      return request.method === 'PATCH' ? HttpResponse.json(api.records.get('notes/n') ?? {}, { status: 409 }) : undefined;
    });
    const first = testEngine({ storage });
    const answered = firstValueFrom(first.events$.pipe(filter((e) => e.type === 'pushed')));
    const queued = await first.write({ entity: 'notes', operation: 'update', data: { id: 'n', title: 'mine' } });
    await answered; // the PUT was applied; its ack never reaches storage
    first.destroy();

    const second = testEngine({ storage: base });
    await drained(second);
    const sent = api.requests.filter((r) => r.path === '/notes/n');
    expect(sent.map((r) => `${r.method} ${r.key}`)).toEqual([`PATCH ${queued.id}`, `PUT ${queued.id}:put`, `PUT ${queued.id}:put`]);
    expect(sent[2].body).toEqual(sent[1].body);
    expect(api.applied.get(`${queued.id}:put`)).toBe(1);
    second.destroy();
  });
});
