import type { IncomingMessage } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import { call, useServer, withServer } from './helpers.js';

describe('reference server: Idempotency-Key', () => {
  const fixture = useServer();
  const key = (k: string) => ({ 'Idempotency-Key': k });

  it('replays the first response of a repeated POST and applies it once', async () => {
    const first = await call(fixture.server, 'POST', '/todos', { body: { title: 'no id' }, headers: key('k1') });
    const again = await call(fixture.server, 'POST', '/todos', { body: { title: 'no id' }, headers: key('k1') });
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body); // same server-assigned id: no second record
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(await fixture.server.db.records('todos')).toHaveLength(1);
    const writes = (await fixture.server.db.writeLog());
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ entity: 'todos', recordId: first.body.id, method: 'POST', idempotencyKey: 'k1', version: 1 });
    expect((await fixture.server.db.stats()).idempotentReplays).toBe(1);
  });

  it('replays the first response of a repeated PATCH even when the record changed since', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a', n: 0 } });
    const first = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: key('p1') });
    await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 2 } });
    const again = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: key('p1') });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await fixture.server.db.record('todos', 'a')).toMatchObject({ n: 2, version: 3 });
  });

  it('keeps a DELETE answered 404 under its key: a late copy of it cannot delete a record created since', async () => {
    const first = await call(fixture.server, 'DELETE', '/todos/late', { headers: key('d1') });
    expect(first.status).toBe(404);
    await call(fixture.server, 'POST', '/todos', { body: { id: 'late', title: 'created after the delete' } });
    const copy = await call(fixture.server, 'DELETE', '/todos/late', { headers: key('d1') });
    expect(copy.status).toBe(404);
    expect(copy.headers.get('idempotent-replayed')).toBe('true');
    expect(await fixture.server.db.record('todos', 'late')).toMatchObject({ title: 'created after the delete' });
  });

  it('answers 422 with a problem+json type when a key is reused with another body, and applies nothing', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a', n: 0 } });
    await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: key('p1') });
    const reused = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 999 }, headers: key('p1') });
    expect(reused.status).toBe(422);
    expect(reused.headers.get('content-type')).toBe('application/problem+json');
    expect(reused.body).toMatchObject({ type: 'urn:rxsync:problem:idempotency-key-mismatch', status: 422 });
    expect(reused.body.detail).toMatch(/p1/);
    expect(await fixture.server.db.record('todos', 'a')).toMatchObject({ n: 1, version: 2 });
  });

  it('answers 422 when a key is reused with another If-Match', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
    await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: { ...key('p1'), 'If-Match': '1' } });
    const reused = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: { ...key('p1'), 'If-Match': '2' } });
    expect(reused).toMatchObject({ status: 422, body: { type: 'urn:rxsync:problem:idempotency-key-mismatch' } });
  });

  it.each([
    ['PUT', '/todos/a', { n: 5 }],
    ['DELETE', '/todos/a', undefined],
  ])('replays a repeated %s', async (method, path, body) => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
    const first = await call(fixture.server, method, path, { body, headers: key('w1') });
    const again = await call(fixture.server, method, path, { body, headers: key('w1') });
    expect(first.status).toBe(200);
    expect(again).toMatchObject({ status: 200, body: first.body });
    expect((await fixture.server.db.writeLog()).filter((w) => w.idempotencyKey === 'w1')).toHaveLength(1);
  });

  it('scopes keys per path and method: the same key elsewhere is another request', async () => {
    const first = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: key('g') });
    const other = await call(fixture.server, 'POST', '/notes', { body: { id: 'b' }, headers: key('g') });
    expect(other.status).toBe(201);
    expect(other.body.id).toBe('b');
    expect(other.headers.get('idempotent-replayed')).toBeNull();
    const put = await call(fixture.server, 'PUT', '/todos/a', { body: { n: 1 }, headers: key('g') });
    expect(put).toMatchObject({ status: 200, body: { id: 'a', n: 1, version: 2 } });
    expect(first.body.version).toBe(1);
    expect(await fixture.server.db.writeLog()).toHaveLength(3);
  });

  it('scopes keys per principal: another caller replaying a key gets nothing of the first', async () => {
    const authorize = (req: IncomingMessage) => ({ principal: String(req.headers['x-user'] ?? 'nobody') });
    await withServer({ authorize }, async (server) => {
      const alice = await call(server, 'POST', '/todos', { body: { title: 'secret of alice' }, headers: { ...key('k'), 'X-User': 'alice' } });
      const mallory = await call(server, 'POST', '/todos', { body: { title: 'secret of alice' }, headers: { ...key('k'), 'X-User': 'mallory' } });
      expect(mallory.status).toBe(201);
      expect(mallory.headers.get('idempotent-replayed')).toBeNull();
      expect(mallory.body.id).not.toBe(alice.body.id);
      const replay = await call(server, 'POST', '/todos', { body: { title: 'secret of alice' }, headers: { ...key('k'), 'X-User': 'alice' } });
      expect(replay).toMatchObject({ status: 201, body: alice.body });
    });
  });

  it('forgets keys after the TTL: the request is evaluated again', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    await withServer({ now: () => new Date(clock), limits: { idempotencyTtlMs: 60_000 } }, async (server) => {
      await call(server, 'POST', '/todos', { body: { id: 'a' }, headers: key('k') });
      clock += 59_999;
      expect((await call(server, 'POST', '/todos', { body: { id: 'a' }, headers: key('k') })).status).toBe(201);
      clock += 1;
      expect((await call(server, 'POST', '/todos', { body: { id: 'a' }, headers: key('k') })).status).toBe(409);
      expect(await server.db.purgeResponses(clock)).toBe(1);
    });
  });

  it('does not store a response over the size cap; a replay answers the record as it is now', async () => {
    await withServer({ limits: { maxStoredResponseBytes: 1000 } }, async (server) => {
      const big = 'x'.repeat(5000);
      const first = await call(server, 'PUT', '/todos/a', { body: { big }, headers: key('k') });
      const small = await call(server, 'PUT', '/todos/s', { body: { n: 1 }, headers: key('k') });
      await call(server, 'PATCH', '/todos/a', { body: { n: 2 } });
      await call(server, 'PATCH', '/todos/s', { body: { n: 2 } });
      const replay = await call(server, 'PUT', '/todos/a', { body: { big }, headers: key('k') });
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual({ ...first.body, n: 2, version: 2, updatedAt: expect.any(String) });
      // A small answer is stored as it was.
      expect((await call(server, 'PUT', '/todos/s', { body: { n: 1 }, headers: key('k') })).body).toEqual(small.body);
      expect(await server.db.writeLog()).toHaveLength(4);
    });
  });

  it('answers 409 with the in-use problem type while the first request with the key is in flight', async () => {
    fixture.server.faults.set({ latencyMs: 300 });
    const first = call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: key('slow') });
    await vi.waitFor(() => expect(fixture.server.faults.counters.delayed).toBe(1));
    const second = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: key('slow') });
    expect(second.status).toBe(409);
    expect(second.headers.get('content-type')).toBe('application/problem+json');
    expect(second.body).toMatchObject({ type: 'urn:rxsync:problem:idempotency-key-in-use', status: 409 });
    expect((await first).status).toBe(201);
    fixture.server.faults.set({ latencyMs: 0 });
    const after = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: key('slow') });
    expect(after).toMatchObject({ status: 201, body: (await first).body });
    expect(after.headers.get('idempotent-replayed')).toBe('true');
  });

  it('answers 409 in-use for a batch item whose key is held by a request in flight; the rest of the batch applies', async () => {
    fixture.server.faults.set({ latencyMs: 300 });
    const first = call(fixture.server, 'PUT', '/todos/a', { body: { n: 1 }, headers: key('k1') });
    await vi.waitFor(() => expect(fixture.server.faults.counters.delayed).toBe(1));
    fixture.server.faults.set({ latencyMs: 0 });
    const batch = await call(fixture.server, 'POST', '/_batch', {
      body: [
        { key: 'k1', method: 'PUT', path: '/todos/a', body: { n: 1 } },
        { key: 'k2', method: 'PUT', path: '/todos/b', body: { n: 2 } },
      ],
    });
    expect(batch.body.results.map((r: any) => [r.status, r.body.type ?? r.body.id])).toEqual([
      [409, 'urn:rxsync:problem:idempotency-key-in-use'],
      [200, 'b'],
    ]);
    expect((await first).status).toBe(200);
  });

  it('does not store rejected requests: after a 409 the same key can carry the client-wins PUT', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a', owner: 'server' } });
    const conflict = await call(fixture.server, 'POST', '/todos', { body: { id: 'a', owner: 'client' }, headers: key('item-1') });
    expect(conflict.status).toBe(409);
    const resend = await call(fixture.server, 'PUT', '/todos/a', { body: { owner: 'client' }, headers: key('item-1') });
    expect(resend.status).toBe(200);
    expect(resend.body).toMatchObject({ owner: 'client', version: 2 });
    const replay = await call(fixture.server, 'PUT', '/todos/a', { body: { owner: 'client' }, headers: key('item-1') });
    expect(replay.body).toEqual(resend.body);
    expect((await fixture.server.db.writeLog()).map((w) => w.method)).toEqual(['POST', 'PUT']);
  });

  it('does not store a 404: the request is evaluated again', async () => {
    expect((await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: key('late') })).status).toBe(404);
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
    expect((await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: key('late') })).status).toBe(200);
  });

  it('answers 400 for a key longer than 255 characters', async () => {
    const res = await call(fixture.server, 'POST', '/todos', { body: {}, headers: key('k'.repeat(256)) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/Idempotency-Key/);
  });

  it('many concurrent repeats of one key apply once: each answer is the first one, or in-use while it runs', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call(fixture.server, 'POST', '/todos', { body: { t: 1 }, headers: key('burst') })),
    );
    const applied = answers.filter((a) => a.status === 201);
    const inUse = answers.filter((a) => a.status === 409);
    expect(applied.length + inUse.length).toBe(20);
    expect(new Set(applied.map((a) => JSON.stringify(a.body))).size).toBe(1);
    for (const answer of inUse) expect(answer.body.type).toBe('urn:rxsync:problem:idempotency-key-in-use');
    expect(await fixture.server.db.writeLog()).toHaveLength(1);
    expect((await fixture.server.db.stats()).idempotentReplays).toBe(applied.length - 1);
  });
});
