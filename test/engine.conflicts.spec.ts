import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpResponse } from 'msw';
import { delay, filter, firstValueFrom, of, take, toArray } from 'rxjs';
import type { ConflictStrategy, SyncStorage } from '../src/index.js';
import { drained, freshStorage, testEngine } from './support/engineHarness.js';
import { restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

const remote = { id: '1', title: 'server', owner: 'ann', version: 4, updatedAt: '2026-01-01T00:00:00.000Z' };

/** The server holds `remote`; the client's PATCH (based on version 3) is stale and gets 409. */
function staleServer() {
  api.records.set('todos/1', { ...remote });
  api.override((request) =>
    request.method === 'PATCH' && request.ifMatch !== String(api.records.get('todos/1')?.version)
      ? HttpResponse.json(api.records.get('todos/1'), { status: 409 })
      : undefined,
  );
}

async function conflictWith(strategy: ConflictStrategy, options: Parameters<typeof testEngine>[0] = {}) {
  staleServer();
  const pulled: unknown[] = [];
  const engine = testEngine({
    entities: { todos: { endpoint: '/todos', conflictStrategy: strategy }, notes: { endpoint: '/notes' } },
    onPull: (entity, items) => {
      pulled.push(...items.map((item) => [entity, item]));
    },
    now: () => Date.parse('2026-06-01T00:00:00.000Z'),
    ...options,
  });
  const conflict = firstValueFrom(engine.conflicts$);
  await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine', version: 3 } });
  const result = await engine.flush();
  return { engine, conflict: await conflict, pulled, result };
}

describe('engine: conflicts (409)', () => {
  it('client-wins whose decision storage refuses: nothing is PUT; the original request goes again after a backoff, and after maxRetries tries the write is a dead letter saying why; once storage works, reprocessFailed() sends the PUT', async () => {
    staleServer();
    const storage = freshStorage();
    let refuse = false;
    const refusing: SyncStorage = {
      getItem: (k) => storage.getItem(k),
      removeItem: (k) => storage.removeItem(k),
      keys: () => storage.keys(),
      setItem: (k, v) => (refuse ? Promise.reject(new Error('QuotaExceededError (injected)')) : storage.setItem(k, v)),
    };
    const engine = testEngine({ storage: refusing, maxRetries: 2, entities: { todos: { endpoint: '/todos', conflictStrategy: 'client-wins' }, notes: { endpoint: '/notes' } } });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine', version: 3 } });
    refuse = true;
    const dead = firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'dead-lettered')));
    await engine.flush();
    expect((await dead).type === 'dead-lettered' && (await dead).error).toMatch(
      /Could not store the client-wins decision for the update of todos "1" \(.*QuotaExceededError \(injected\).*\); nothing was re-sent\. Gave up after 3 tries; call reprocessFailed\(\) once storage works\./,
    );
    // the engine's backoff settings (here 1 ms doubling, no jitter), as for any other retry
    expect(engine.seen.flatMap((e) => (e.type === 'retried' ? [[e.attempt, e.delayMs]] : []))).toEqual([[1, 1], [2, 2]]);
    expect(api.requests.map((r) => r.method)).toEqual(['PATCH', 'PATCH', 'PATCH']);
    expect(api.records.get('todos/1')).toEqual(remote);

    refuse = false;
    await engine.reprocessFailed();
    await drained(engine);
    expect(api.requests.map((r) => r.method)).toEqual(['PATCH', 'PATCH', 'PATCH', 'PATCH', 'PUT']);
    expect(api.records.get('todos/1')).toEqual({ ...remote, title: 'mine', version: 3 });
    expect(engine.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });
    engine.destroy();
  });

  it('a create without an id answered 409 with an error object: the object is not taken for the server\'s record, and the app is handed nothing', async () => {
    api.override((request) => (request.method === 'POST' ? HttpResponse.json({ error: 'duplicate' }, { status: 409 }) : undefined));
    const pulled: unknown[] = [];
    const engine = testEngine({
      onPull: (_entity, items) => {
        pulled.push(...items);
      },
    });
    const conflict = firstValueFrom(engine.conflicts$);
    await engine.write({ entity: 'todos', operation: 'create', data: { title: 'no id yet' } });
    expect(await conflict).toMatchObject({ remoteData: undefined, resolution: { strategy: 'server-wins', outcome: 'server-wins' } });
    await drained(engine);
    expect(pulled).toEqual([]);
    engine.destroy();
  });

  it('server-wins: the remote record goes to onPull and pulled$, nothing is re-sent', async () => {
    const { engine, conflict, pulled, result } = await conflictWith('server-wins');
    expect(conflict).toMatchObject({ entity: 'todos', remoteData: remote, resolution: { strategy: 'server-wins', outcome: 'server-wins' } });
    expect(pulled).toEqual([['todos', remote]]);
    expect(api.requests.map((r) => r.method)).toEqual(['PATCH']);
    expect(api.records.get('todos/1')).toEqual(remote);
    expect(result).toMatchObject({ success: true, conflicts: 1, errors: 0 });
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });

  it('client-wins: re-sent as a PUT of the local change over the remote record, with its own idempotency key', async () => {
    const { engine, conflict } = await conflictWith('client-wins');
    expect(conflict.resolution).toMatchObject({ outcome: 'client-wins' });
    const [patch, put] = api.requests;
    expect(put).toMatchObject({ method: 'PUT', path: '/todos/1', ifMatch: null, key: `${patch.key}:put` });
    expect(api.records.get('todos/1')).toEqual({ ...remote, title: 'mine', version: 3 });
    engine.destroy();
  });

  it('last-write-wins: the newer local write wins …', async () => {
    const { engine, conflict } = await conflictWith('last-write-wins');
    expect(conflict.resolution).toMatchObject({ strategy: 'last-write-wins', outcome: 'client-wins' });
    expect(api.records.get('todos/1')).toMatchObject({ title: 'mine' });
    engine.destroy();
  });

  it('… and the newer remote record wins', async () => {
    const { engine, conflict } = await conflictWith('last-write-wins', { now: () => Date.parse('2025-01-01T00:00:00.000Z') });
    expect(conflict.resolution).toMatchObject({ outcome: 'server-wins' });
    expect(api.records.get('todos/1')).toEqual(remote);
    engine.destroy();
  });

  it('manual: onConflict answers with an Observable; its record is PUT', async () => {
    const { engine, conflict } = await conflictWith('manual', {
      onConflict: ({ remoteData }) => of({ ...(remoteData as object), title: 'merged by hand' }).pipe(delay(5)),
    });
    expect(conflict.resolution).toMatchObject({ strategy: 'manual', outcome: 'client-wins' });
    expect(api.records.get('todos/1')).toMatchObject({ title: 'merged by hand', owner: 'ann' });
    engine.destroy();
  });

  it('manual: a throwing onConflict dead-letters the write with a clear error; the engine goes on', async () => {
    const { engine, conflict, result } = await conflictWith('manual', {
      onConflict: () => {
        throw new Error('cannot decide');
      },
    });
    expect(conflict.resolution).toMatchObject({ outcome: 'error' });
    expect(result).toMatchObject({ success: false, errors: 1, conflicts: 1 });
    const [dead] = await firstValueFrom(engine.failed$);
    expect(dead.lastError).toBe('[rxsync] onConflict failed: cannot decide');
    api.override(undefined);
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '2' } });
    await drained(engine);
    expect(api.records.has('todos/2')).toBe(true);
    engine.destroy();
  });

  it('manual without onConflict is server-wins', async () => {
    const { engine, conflict } = await conflictWith('manual');
    expect(conflict.resolution).toMatchObject({ outcome: 'server-wins' });
    engine.destroy();
  });

  it('every conflict is on conflicts$ and events$', async () => {
    api.records.set('todos/1', { ...remote });
    api.records.set('todos/2', { ...remote, id: '2' });
    api.override((request) => (request.method === 'POST' ? HttpResponse.json(api.records.get(`todos/${(request.body as { id: string }).id}`), { status: 409 }) : undefined));
    const engine = testEngine();
    const all = firstValueFrom(engine.conflicts$.pipe(take(2), toArray()));
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '1' } });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '2' } });
    expect((await all).map((c) => (c.remoteData as { id: string }).id).sort()).toEqual(['1', '2']);
    await drained(engine);
    expect(engine.seen.filter((e) => e.type === 'conflict')).toHaveLength(2);
    engine.destroy();
  });
});

describe('engine: record versions (If-Match)', () => {
  it("a write queued behind one in flight moves onto the version the server answered, so it does not conflict with its own predecessor", async () => {
    api.records.set('todos/1', { id: '1', title: 'a', version: 3 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    api.override(async (request) => {
      if (request.method !== 'PATCH') return undefined;
      const current = api.records.get('todos/1')!;
      if (request.ifMatch !== String(current.version)) return HttpResponse.json(current, { status: 409 });
      if (current.version === 3) await held;
      const next = { ...current, ...(request.body as object), version: (current.version as number) + 1 };
      api.records.set('todos/1', next);
      return HttpResponse.json(next);
    });
    const engine = testEngine();
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'b', version: 3 } });
    await firstValueFrom(engine.status$.pipe(filter((s) => s.inFlight === 1)));
    // The app still knows version 3: it has not seen the answer to its first edit yet.
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', done: true, version: 3 } });
    release();
    await drained(engine);
    expect(api.requests.map((r) => r.ifMatch)).toEqual(['3', '4']);
    expect(api.records.get('todos/1')).toEqual({ id: '1', title: 'b', done: true, version: 5 });
    expect(engine.seen.filter((e) => e.type === 'conflict')).toEqual([]);
    expect(engine.seen.find((e) => e.type === 'pushed')).toMatchObject({ status: 200, body: { version: 4 } });
    engine.destroy();
  });
});
