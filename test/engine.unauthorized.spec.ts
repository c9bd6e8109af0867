import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom, NEVER, of, throwError } from 'rxjs';
import { httpTransport, SyncHttpError, type SyncEngineOptions, type UnauthorizedContext } from '../src/index.js';
import { drained, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/**
 * The API takes only `Bearer fresh`; the app starts with a stale token. `refused` holds the
 * tokens of the 401s in the order given; with `holdUntil`, the first 401s are answered only once
 * that many requests are waiting for one (so they are all in flight together).
 */
function authApi({ holdUntil = 0 } = {}) {
  const session = { token: 'stale' };
  const refused: string[] = [];
  let waiting = 0;
  let releaseAll!: () => void;
  const together = new Promise<void>((resolve) => (releaseAll = resolve));
  api.server.use(
    http.all(`${API}/*`, async ({ request }) => {
      const token = request.headers.get('Authorization');
      if (token === 'Bearer fresh') return undefined;
      refused.push(String(token));
      if (++waiting >= holdUntil) releaseAll();
      await together;
      return HttpResponse.json({ error: 'token expired' }, { status: 401 });
    }),
  );
  const engine = (options: Partial<SyncEngineOptions<'todos' | 'notes'>> & { startOnline?: boolean } = {}) =>
    testEngine({ transport: httpTransport({ baseUrl: API, headers: async () => ({ Authorization: `Bearer ${session.token}` }) }), ...options });
  return { session, refused, engine };
}

const todo = (id: string) => ({ entity: 'todos' as const, operation: 'create' as const, data: { id, title: `t${id}` } });
const authRequired = (engine: ReturnType<typeof testEngine>) => firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'auth-required')));

describe('engine: onUnauthorized', () => {
  it.each([1, 3])(
    'batchSize %i: three writes in flight all answered 401 → one call; once it renewed the token each goes again with it, no retry counted',
    async (batchSize) => {
      const { session, refused, engine: make } = authApi({ holdUntil: batchSize === 1 ? 3 : 1 });
      const calls: UnauthorizedContext[] = [];
      const engine = make({
        batchSize,
        startOnline: false,
        onUnauthorized: async (context) => {
          calls.push(context);
          session.token = 'fresh';
          return true;
        },
      });
      for (const id of ['1', '2', '3']) await engine.write(todo(id));
      engine.network.next(true);
      await drained(engine);

      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ status: 401, body: { error: 'token expired' }, item: { entity: 'todos', operation: 'create' } });
      expect(refused.every((token) => token === 'Bearer stale')).toBe(true);
      expect(refused.length).toBeGreaterThan(0);
      expect([...api.records.keys()].sort()).toEqual(['todos/1', 'todos/2', 'todos/3']);
      expect(engine.seen.filter((e) => e.type === 'retried' || e.type === 'dead-lettered')).toEqual([]);
      expect(engine.seen.filter((e) => e.type === 'pushed').map((e) => e.type === 'pushed' && e.item.retryCount)).toEqual([0, 0, 0]);
      expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0, failedCount: 0 });
      engine.destroy();
    },
  );

  it('a hook that cannot renew: the writes stay queued, status and an event say why, flush() resolves unsuccessful; the next flush() sends them once the app signed in', async () => {
    const { session, engine: make } = authApi();
    let calls = 0;
    const engine = make({
      onUnauthorized: () => {
        calls++;
        return false;
      },
    });
    const event = authRequired(engine);
    await engine.write(todo('1'));
    await engine.write(todo('2'));
    expect(await event).toMatchObject({ error: expect.stringMatching(/^\[rxsync\] The server answered 401 and onUnauthorized returned false/) });
    expect(await engine.flush()).toMatchObject({ success: false, pushed: 0, errors: 0 });
    expect(engine.getStatus()).toMatchObject({ queueLength: 2, failedCount: 0, lastError: expect.stringContaining('Delivery is paused; the writes stay queued') });
    expect(calls).toBe(2);

    // The app signs the user in by itself; the next flush sends what waited.
    session.token = 'fresh';
    expect(await engine.flush()).toMatchObject({ success: true, pushed: 2 });
    expect(calls).toBe(2);
    expect(api.records.size).toBe(2);
    engine.destroy();
  });

  it('a reconnect tries again after a failed renewal', async () => {
    const { session, engine: make } = authApi();
    const engine = make({ onUnauthorized: () => false });
    const event = authRequired(engine);
    await engine.write(todo('1'));
    await event;
    session.token = 'fresh';
    engine.network.next(false);
    engine.network.next(true);
    await drained(engine);
    expect(api.records.has('todos/1')).toBe(true);
    engine.destroy();
  });

  it.each<[what: string, hook: () => unknown, says: RegExp]>([
    ['throws', () => { throw new Error('refresh token revoked'); }, /onUnauthorized failed: refresh token revoked/],
    ['rejects', () => Promise.reject(new Error('auth server down')), /onUnauthorized failed: auth server down/],
    ['never settles', () => new Promise(() => undefined), /onUnauthorized failed: it did not settle within 50 ms/],
    ['returns something else', () => 'ok', /onUnauthorized returned "ok"; it must return true \(or nothing\)/],
    ['says it renewed, but the token is as stale as before', () => true, /onUnauthorized said the credentials were renewed, but the server answered 401 to the renewed ones too/],
  ])('a hook that %s: an auth-required event says so; the write stays queued', async (_what, hook, says) => {
    const { engine: make } = authApi();
    let calls = 0;
    const engine = make({
      requestTimeoutMs: 50,
      onUnauthorized: () => {
        calls++;
        return hook() as boolean;
      },
    });
    const event = authRequired(engine);
    await engine.write(todo('1'));
    expect((await event).type === 'auth-required' && (await event).error).toMatch(says);
    expect(calls).toBe(1);
    expect(engine.getStatus()).toMatchObject({ queueLength: 1, failedCount: 0 });
    engine.destroy();
  });

  it('after a renewal that worked, a 401 much later (the token expired again) asks again', async () => {
    const { session, engine: make } = authApi();
    let calls = 0;
    const engine = make({
      onUnauthorized: () => {
        calls++;
        session.token = 'fresh';
      },
    });
    await engine.write(todo('1'));
    await drained(engine);
    session.token = 'expired-again';
    await engine.write(todo('2'));
    await drained(engine);
    expect(calls).toBe(2);
    expect(api.records.size).toBe(2);
    engine.destroy();
  });

  /** Answers the requests in turn from `script` (a status, or `network` for no answer at all), then lets the API answer. */
  function scripted(script: (number | 'network')[]) {
    api.server.use(
      http.all(`${API}/*`, () => {
        const next = script.shift();
        if (next === undefined) return undefined;
        if (next === 'network') return HttpResponse.error();
        return HttpResponse.json({ error: next === 401 ? 'token expired' : 'busy' }, { status: next });
      }),
    );
  }

  it('a renewed token the server answered with anything but 401 (here a 503) is proven: a 401 after it asks the hook again', async () => {
    scripted([401, 503, 401]);
    let calls = 0;
    const engine = testEngine({ onUnauthorized: () => void calls++ });
    await engine.write(todo('1'));
    await drained(engine);
    expect(calls).toBe(2);
    expect(engine.seen.filter((e) => e.type === 'auth-required')).toEqual([]);
    expect(api.records.has('todos/1')).toBe(true);
    engine.destroy();
  });

  it('a request that got no answer proves nothing: a 401 after it means the renewal did not work', async () => {
    scripted([401, 'network', 401]);
    let calls = 0;
    const engine = testEngine({ onUnauthorized: () => void calls++ });
    const event = authRequired(engine);
    await engine.write(todo('1'));
    expect((await event).type === 'auth-required' && (await event).error).toMatch(/the server answered 401 to the renewed ones too/);
    expect(calls).toBe(1);
    expect(engine.getStatus()).toMatchObject({ queueLength: 1, failedCount: 0 });
    engine.destroy();
  });

  it('a 401 to a whole batch proves nothing either: renewed credentials that get it, and then 401s one by one, did not work', async () => {
    let calls = 0;
    const pushes: string[] = [];
    const batches: number[] = [];
    let resent!: () => void;
    const resending = new Promise<void>((resolve) => (resent = resolve));
    const engine = testEngine({
      batchSize: 2,
      onUnauthorized: () => void calls++,
      transport: {
        // "1" asks for the renewal, and its re-send under the renewed credentials gets no answer;
        // "2" and "3", written meanwhile, go as a batch that is refused whole, then one by one.
        push: (request) => {
          pushes.push(String((request.item.data as { id: string }).id));
          if (pushes.length !== 2) return of({ status: 401, body: { error: 'token expired' } });
          resent();
          return NEVER;
        },
        pushBatch: (requests) => (batches.push(requests.length), throwError(() => new SyncHttpError('[rxsync] The server answered 401 to the batch.', 401))),
        pull: () => NEVER,
      },
    });
    await engine.write(todo('1'));
    await resending;
    const event = authRequired(engine);
    engine.network.next(false);
    await engine.write(todo('2'));
    await engine.write(todo('3'));
    engine.network.next(true);
    expect((await event).type === 'auth-required' && (await event).error).toMatch(/the server answered 401 to the renewed ones too/);
    expect(calls).toBe(1);
    expect(batches).toEqual([2]);
    expect(pushes).toEqual(['1', '1', '2']);
    engine.destroy();
  });

  it('only a 401 the transport leaves unread asks the hook: not a 422, nor a 401 a classify reads as delivered', async () => {
    let calls = 0;
    api.override(() => HttpResponse.json({ error: 'invalid' }, { status: 422 }));
    const refused = testEngine({ onUnauthorized: () => void calls++ });
    await refused.write(todo('1'));
    await firstValueFrom(refused.failed$.pipe(filter((f) => f.length === 1)));
    refused.destroy();

    const delivered = testEngine({
      onUnauthorized: () => void calls++,
      transport: { push: () => of({ status: 401, body: null, kind: 'ack', reason: 'stored; the session ends now' }), pull: () => NEVER },
    });
    await delivered.write(todo('2'));
    await drained(delivered);
    expect(delivered.seen.find((e) => e.type === 'pushed')).toMatchObject({ status: 401 });
    delivered.destroy();
    expect(calls).toBe(0);
  });

  it('without onUnauthorized a 401 is final: the write becomes a dead letter saying so', async () => {
    const { engine: make } = authApi();
    const engine = make();
    await engine.write(todo('1'));
    await drained(engine);
    expect(engine.getStatus()).toMatchObject({ failedCount: 1, lastError: expect.stringContaining('refused the create of todos "1" with 401') });
    engine.destroy();
  });
});
