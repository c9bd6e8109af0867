import { describe, expect, it } from 'vitest';
import { call, useServer } from './helpers.js';

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
    expect(fixture.server.db.records('todos')).toHaveLength(1);
    const writes = fixture.server.db.writeLog();
    expect(writes).toHaveLength(1);
    expect(writes[0]).toMatchObject({ entity: 'todos', recordId: first.body.id, method: 'POST', idempotencyKey: 'k1', version: 1 });
    expect(fixture.server.db.stats().idempotentReplays).toBe(1);
  });

  it('replays the first response even when the record changed since and the body differs', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a', n: 0 } });
    const first = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: key('p1') });
    await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 2 } });
    const again = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 999 }, headers: key('p1') });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(fixture.server.db.record('todos', 'a')).toMatchObject({ n: 2, version: 3 });
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
    expect(fixture.server.db.writeLog().filter((w) => w.idempotencyKey === 'w1')).toHaveLength(1);
  });

  it('keys are global, not per entity or path', async () => {
    const first = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: key('g') });
    const other = await call(fixture.server, 'POST', '/notes', { body: { id: 'b' }, headers: key('g') });
    expect(other).toMatchObject({ status: 201, body: first.body });
    expect(fixture.server.db.records('notes')).toEqual([]);
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
    expect(fixture.server.db.writeLog().map((w) => w.method)).toEqual(['POST', 'PUT']);
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

  it('many concurrent repeats of one key apply once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call(fixture.server, 'POST', '/todos', { body: { t: 1 }, headers: key('burst') })),
    );
    expect(new Set(answers.map((a) => JSON.stringify([a.status, a.body]))).size).toBe(1);
    expect(fixture.server.db.writeLog()).toHaveLength(1);
    expect(fixture.server.db.stats().idempotentReplays).toBe(19);
  });
});
