import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_FAULTS, FaultConfigError, Faults } from '../../server/index.js';
import { call, scripted, useServer } from './helpers.js';

describe('reference server: fault injection', () => {
  describe('Faults (in process)', () => {
    it('merges partial configs, validates them as a whole and resets', () => {
      const faults = new Faults({ latencyMs: 5 });
      expect(faults.config).toEqual({ ...DEFAULT_FAULTS, latencyMs: 5 });
      expect(faults.set({ failureRate: 0.5 })).toEqual({ ...DEFAULT_FAULTS, latencyMs: 5, failureRate: 0.5 });
      expect(() => faults.set({ failureRate: 0.1, dropResponseRate: 2 })).toThrow(FaultConfigError);
      expect(faults.config.failureRate).toBe(0.5);
      expect(() => faults.set({ nope: 1 } as never)).toThrow(/Unknown fault option "nope"/);
      expect(() => faults.set({ failureStatus: 200 })).toThrow(/failureStatus/);
      expect(faults.reset()).toEqual(DEFAULT_FAULTS);
    });

    it('only draws random numbers for rates above 0; failNext/dropNext count down first', () => {
      const faults = new Faults({ failNext: 1, dropNext: 1 }, scripted(0.3, 0.7));
      expect(faults.shouldFail()).toBe(true);
      expect(faults.shouldFail()).toBe(false); // rate 0: no draw
      expect(faults.shouldDrop()).toBe(true);
      faults.set({ failureRate: 0.5 });
      expect(faults.shouldFail()).toBe(true); // 0.3 < 0.5
      expect(faults.shouldFail()).toBe(false); // 0.7
      expect(faults.counters).toEqual({ delayed: 0, failed: 2, dropped: 1 });
    });
  });

  describe('over HTTP', () => {
    let random = scripted();
    const fixture = useServer(() => {
      random = scripted();
      return { random: () => random() };
    });

    it('latencyMs delays entity requests', async () => {
      fixture.server.faults.set({ latencyMs: 60 });
      const started = performance.now();
      const res = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      expect(res.status).toBe(201);
      expect(performance.now() - started).toBeGreaterThanOrEqual(50);
    });

    it('failureRate answers 503 with Retry-After and applies nothing', async () => {
      await call(fixture.server, 'POST', '/__faults', { body: { failureRate: 1, retryAfterSeconds: 7 } });
      random = scripted(0.99);
      const res = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k', Origin: 'http://localhost:5173' } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(res.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
      expect(res.body.error).toMatch(/Injected fault/);
      expect(await fixture.server.db.writeLog()).toEqual([]);
      // the key was not consumed: the retry is applied once the fault is gone
      fixture.server.faults.set({ failureRate: 0 });
      expect((await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } })).status).toBe(201);
    });

    it('sends no Retry-After when retryAfterSeconds is null; failureStatus picks the status', async () => {
      fixture.server.faults.set({ failNext: 2, failureStatus: 429 });
      const res = await call(fixture.server, 'GET', '/todos');
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBeNull();
      expect((await call(fixture.server, 'GET', '/todos')).status).toBe(429);
      expect((await call(fixture.server, 'GET', '/todos')).status).toBe(200);
      expect(fixture.server.faults.config.failNext).toBe(0);
    });

    it('a partial failureRate follows the injected randomness', async () => {
      fixture.server.faults.set({ failureRate: 0.5 });
      random = scripted(0.2, 0.8, 0.49, 0.5);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await call(fixture.server, 'POST', '/todos', { body: {} })).status);
      expect(statuses).toEqual([503, 201, 503, 201]);
      expect(await fixture.server.db.writeLog()).toHaveLength(2);
    });

    it('a dropped response: fetch rejects, the write is applied once, a retry with the key gets the stored response', async () => {
      fixture.server.faults.set({ dropResponseRate: 1 });
      random = scripted(0.5);
      const send = () =>
        fetch(`${fixture.server.url}/todos`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': 'drop-1' },
          body: JSON.stringify({ title: 'lost answer' }),
        });
      await expect(send()).rejects.toThrow(TypeError);
      const writes = (await call(fixture.server, 'GET', '/__writes')).body;
      expect(writes).toHaveLength(1);
      expect(writes[0]).toMatchObject({ method: 'POST', idempotencyKey: 'drop-1' });

      fixture.server.faults.set({ dropResponseRate: 0 });
      const retry = await send();
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(await retry.json()).toEqual((await fixture.server.db.records('todos'))[0]);
      expect((await call(fixture.server, 'GET', '/__writes')).body).toHaveLength(1);
      expect((await call(fixture.server, 'GET', '/__stats')).body).toMatchObject({ records: 1, writes: 1, idempotentReplays: 1 });
    });

    it('a partial dropResponseRate follows the injected randomness; dropNext drops deterministically', async () => {
      fixture.server.faults.set({ dropResponseRate: 0.3 });
      random = scripted(0.9, 0.1);
      expect((await call(fixture.server, 'PUT', '/todos/a', { body: { n: 1 } })).status).toBe(200);
      await expect(call(fixture.server, 'PATCH', '/todos/a', { body: { n: 2 } })).rejects.toThrow();
      fixture.server.faults.set({ dropResponseRate: 0, dropNext: 1 });
      await expect(call(fixture.server, 'PATCH', '/todos/a', { body: { n: 3 } })).rejects.toThrow();
      expect((await call(fixture.server, 'GET', '/todos/a')).body).toMatchObject({ n: 3, version: 3 });
      expect(fixture.server.faults.counters.dropped).toBe(2);
    });

    it('applies to /_batch as a whole: a failure applies nothing, a drop applies everything', async () => {
      const batch = [
        { key: 'a', method: 'POST', path: '/todos', body: { id: 'a' } },
        { key: 'b', method: 'POST', path: '/todos', body: { id: 'b' } },
      ];
      fixture.server.faults.set({ failNext: 1, retryAfterSeconds: 1 });
      const failed = await call(fixture.server, 'POST', '/_batch', { body: batch });
      expect(failed.status).toBe(503);
      expect(failed.headers.get('retry-after')).toBe('1');
      expect(await fixture.server.db.writeLog()).toEqual([]);

      fixture.server.faults.set({ dropNext: 1 });
      await expect(call(fixture.server, 'POST', '/_batch', { body: batch })).rejects.toThrow();
      expect(await fixture.server.db.writeLog()).toHaveLength(2);

      const retry = await call(fixture.server, 'POST', '/_batch', { body: batch });
      expect(retry.body.results.map((r: any) => r.status)).toEqual([201, 201]);
      expect(await fixture.server.db.writeLog()).toHaveLength(2);
      expect((await fixture.server.db.stats()).idempotentReplays).toBe(2);
    });

    it('never applies to /__ admin routes or CORS preflight', async () => {
      fixture.server.faults.set({ failureRate: 1, dropResponseRate: 1 }); // random is empty: a draw would throw
      expect((await call(fixture.server, 'GET', '/__faults')).status).toBe(200);
      expect((await call(fixture.server, 'GET', '/__stats')).status).toBe(200);
      expect((await call(fixture.server, 'GET', '/__writes')).status).toBe(200);
      expect((await call(fixture.server, 'GET', '/__records/todos')).status).toBe(200);
      expect((await fetch(`${fixture.server.url}/todos`, { method: 'OPTIONS' })).status).toBe(204);
      expect((await call(fixture.server, 'POST', '/__reset')).status).toBe(200);
    });

    it('GET/POST/DELETE /__faults read, merge (validated) and reset the config', async () => {
      expect((await call(fixture.server, 'GET', '/__faults')).body).toEqual(DEFAULT_FAULTS);
      const merged = await call(fixture.server, 'POST', '/__faults', { body: { latencyMs: 1, retryAfterSeconds: 2 } });
      expect(merged.body).toEqual({ ...DEFAULT_FAULTS, latencyMs: 1, retryAfterSeconds: 2 });
      const more = await call(fixture.server, 'POST', '/__faults', { body: { retryAfterSeconds: null, failureRate: 0.25 } });
      expect(more.body).toEqual({ ...DEFAULT_FAULTS, latencyMs: 1, failureRate: 0.25 });
      for (const body of [{ failureRate: 1.5 }, { latencyMs: -1 }, { dropResponseRate: '1' }, { bogus: true }, [1]]) {
        const bad = await call(fixture.server, 'POST', '/__faults', { body });
        expect(bad.status).toBe(400);
        expect(typeof bad.body.error).toBe('string');
      }
      expect((await call(fixture.server, 'POST', '/__faults', { raw: '{' })).status).toBe(400);
      expect(fixture.server.faults.config).toEqual(more.body);
      expect((await call(fixture.server, 'DELETE', '/__faults')).body).toEqual(DEFAULT_FAULTS);
    });
  });

  describe('startup options', () => {
    const fixture = useServer({ faults: { failNext: 1, retryAfterSeconds: 3 } });

    it('options.faults sets the initial config', async () => {
      const res = await call(fixture.server, 'GET', '/todos');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('3');
    });

    it('close() does not wait for requests held by latency', async () => {
      fixture.server.faults.set({ failNext: 0, latencyMs: 60_000 });
      const pending = call(fixture.server, 'POST', '/todos', { body: { id: 'slow' } });
      pending.catch(() => undefined);
      await vi.waitFor(() => expect(fixture.server.faults.counters.delayed).toBe(1)); // it is being held
      const started = performance.now();
      await fixture.server.close();
      expect(performance.now() - started).toBeLessThan(5_000);
      await expect(pending).rejects.toThrow();
    });
  });
});
