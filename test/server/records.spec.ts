import { describe, expect, it } from 'vitest';
import { call, useServer } from './helpers.js';

describe('reference server: records', () => {
  let tick = 0;
  const fixture = useServer(() => {
    tick = 0;
    return { now: () => new Date(Date.UTC(2030, 0, 1, 0, 0, tick++)) };
  });

  describe('POST /{entity} (create)', () => {
    it('stores the record with server-assigned version 1 and updatedAt, 201, ETag and Location', async () => {
      const res = await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 'milk' } });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ id: 'a', title: 'milk', version: 1, updatedAt: '2030-01-01T00:00:00.000Z' });
      expect(res.headers.get('etag')).toBe('"1"');
      expect(res.headers.get('location')).toBe('/todos/a');
      expect(await fixture.server.db.records('todos')).toEqual([res.body]);
    });

    it('assigns a UUID when the body has no id', async () => {
      const res = await call(fixture.server, 'POST', '/todos', { body: { title: 'x' } });
      expect(res.status).toBe(201);
      expect(res.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(res.body.version).toBe(1);
    });

    it('ignores client-sent version, updatedAt and deleted', async () => {
      const res = await call(fixture.server, 'POST', '/todos', {
        body: { id: 'a', title: 't', version: 42, updatedAt: '1999-01-01T00:00:00.000Z', deleted: true },
      });
      expect(res.body).toEqual({ id: 'a', title: 't', version: 1, updatedAt: '2030-01-01T00:00:00.000Z' });
    });

    it('answers 409 with the current record when a live record has that id, changing nothing', async () => {
      const first = await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 'first' } });
      const second = await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 'second' } });
      expect(second.status).toBe(409);
      expect(second.body).toEqual(first.body);
      expect(await fixture.server.db.writeLog()).toHaveLength(1);
    });

    it('revives a tombstone; the version continues', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 'old' } });
      await call(fixture.server, 'DELETE', '/todos/a');
      const res = await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 'new' } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ id: 'a', title: 'new', version: 3 });
      expect(res.body).not.toHaveProperty('deleted');
    });

    it('keeps entities apart: the same id may live in two entities', async () => {
      expect((await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } })).status).toBe(201);
      expect((await call(fixture.server, 'POST', '/notes', { body: { id: 'a' } })).status).toBe(201);
      expect(await fixture.server.db.records('todos')).toHaveLength(1);
      expect(await fixture.server.db.records('notes')).toHaveLength(1);
    });

    it('accepts an integer id as its decimal string', async () => {
      const res = await call(fixture.server, 'POST', '/todos', { body: { id: 7, n: 1 } });
      expect(res.status).toBe(201);
      expect(res.body.id).toBe('7');
      expect((await call(fixture.server, 'PATCH', '/todos/7', { body: { id: 7, n: 2 } })).body).toMatchObject({ id: '7', n: 2 });
    });

    it.each([
      ['a fractional id', { id: 7.5 }],
      ['an object id', { id: { a: 1 } }],
      ['an empty id', { id: '' }],
    ])('answers 400 for %s', async (_, body) => {
      const res = await call(fixture.server, 'POST', '/todos', { body });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/id/);
    });
  });

  describe('PATCH /{entity}/{id} (update)', () => {
    it('shallow-merges the fields, bumps the version and sets updatedAt', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 't', meta: { x: 1, y: 2 }, done: false } });
      const res = await call(fixture.server, 'PATCH', '/todos/a', { body: { id: 'a', done: true, meta: { x: 9 }, version: 77 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: 'a', title: 't', meta: { x: 9 }, done: true, version: 2, updatedAt: '2030-01-01T00:00:01.000Z' });
      expect(res.headers.get('etag')).toBe('"2"');
    });

    it('answers 404 for a missing record and for a tombstone', async () => {
      expect((await call(fixture.server, 'PATCH', '/todos/nope', { body: { a: 1 } })).status).toBe(404);
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      await call(fixture.server, 'DELETE', '/todos/a');
      const res = await call(fixture.server, 'PATCH', '/todos/a', { body: { a: 1 } });
      expect(res.status).toBe(404);
      expect(res.body.error).toMatch(/deleted/);
    });

    it('answers 409 with the current record when If-Match is stale, changing nothing', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 't' } });
      const current = await call(fixture.server, 'PATCH', '/todos/a', { body: { title: 'server' } });
      const res = await call(fixture.server, 'PATCH', '/todos/a', { body: { title: 'client' }, headers: { 'If-Match': '"1"' } });
      expect(res.status).toBe(409);
      expect(res.body).toEqual(current.body);
      expect(await fixture.server.db.record('todos', 'a')).toEqual(current.body);
    });

    it.each(['2', '"2"', 'W/"2"', '*'])('applies when If-Match is %s and the version is 2', async (ifMatch) => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 } });
      const res = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 2 }, headers: { 'If-Match': ifMatch } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ n: 2, version: 3 });
    });

    it('answers 400 for a malformed If-Match', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      const res = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 }, headers: { 'If-Match': 'abc' } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/If-Match/);
    });

    it('answers 400 when the body id differs from the path id', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      const res = await call(fixture.server, 'PATCH', '/todos/a', { body: { id: 'b' } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/does not match/);
    });

    it('decodes %-escaped ids', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a b/c' } });
      const res = await call(fixture.server, 'PATCH', `/todos/${encodeURIComponent('a b/c')}`, { body: { n: 1 } });
      expect(res.status).toBe(200);
      expect(res.body.id).toBe('a b/c');
    });
  });

  describe('PUT /{entity}/{id} (client-wins overwrite)', () => {
    it('overwrites every field unconditionally, ignoring If-Match', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 't', done: true } });
      const res = await call(fixture.server, 'PUT', '/todos/a', { body: { title: 'mine' }, headers: { 'If-Match': '"99"' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: 'a', title: 'mine', version: 2, updatedAt: '2030-01-01T00:00:01.000Z' });
    });

    it('creates a missing record (version 1) and revives a tombstone (version continues)', async () => {
      expect((await call(fixture.server, 'PUT', '/todos/new', { body: { n: 1 } })).body).toMatchObject({ id: 'new', n: 1, version: 1 });
      await call(fixture.server, 'DELETE', '/todos/new');
      const res = await call(fixture.server, 'PUT', '/todos/new', { body: { n: 2 } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: 'new', n: 2, version: 3, updatedAt: '2030-01-01T00:00:02.000Z' });
    });
  });

  describe('DELETE /{entity}/{id}', () => {
    it('writes a tombstone and answers 200 with it', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a', title: 't' } });
      const res = await call(fixture.server, 'DELETE', '/todos/a');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: 'a', deleted: true, version: 2, updatedAt: '2030-01-01T00:00:01.000Z' });
      expect(await fixture.server.db.records('todos')).toEqual([]);
      expect(await fixture.server.db.records('todos', { includeDeleted: true })).toEqual([res.body]);
      expect((await call(fixture.server, 'GET', '/todos/a')).status).toBe(404);
    });

    it('answers 404 for a missing record and for a second delete', async () => {
      expect((await call(fixture.server, 'DELETE', '/todos/nope')).status).toBe(404);
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      expect((await call(fixture.server, 'DELETE', '/todos/a')).status).toBe(200);
      expect((await call(fixture.server, 'DELETE', '/todos/a')).status).toBe(404);
      expect((await fixture.server.db.writeLog()).map((w) => w.method)).toEqual(['POST', 'DELETE']);
    });

    it('honours If-Match: stale answers 409 with the current record, current deletes', async () => {
      await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
      const current = await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 } });
      const stale = await call(fixture.server, 'DELETE', '/todos/a', { headers: { 'If-Match': '1' } });
      expect(stale.status).toBe(409);
      expect(stale.body).toEqual(current.body);
      const ok = await call(fixture.server, 'DELETE', '/todos/a', { headers: { 'If-Match': '"2"' } });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ id: 'a', deleted: true, version: 3 });
    });
  });

  describe('GET /{entity}/{id}', () => {
    it('answers the live record', async () => {
      const created = await call(fixture.server, 'POST', '/todos', { body: { id: 'a', n: 1 } });
      const res = await call(fixture.server, 'GET', '/todos/a');
      expect(res.status).toBe(200);
      expect(res.body).toEqual(created.body);
      expect(res.headers.get('etag')).toBe('"1"');
    });
  });

  describe('errors', () => {
    it('answers 400 with a JSON error for a body that is not valid JSON', async () => {
      const res = await call(fixture.server, 'POST', '/todos', { raw: '{"id": ' });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(res.body.error).toMatch(/not valid JSON/);
    });

    it.each([
      ['an array', '[1,2]'],
      ['a string', '"x"'],
      ['null', 'null'],
      ['empty', ''],
    ])('answers 400 when the body is %s, not an object', async (_, raw) => {
      const res = await call(fixture.server, 'PATCH', '/todos/a', { raw });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/must be a JSON object/);
    });

    it.each([
      ['GET', '/todos/a/b'],
      ['GET', '/_secret'],
      ['POST', '/__nope'],
      ['GET', '/favicon.ico'],
    ])('answers 404 with a JSON error for %s %s', async (method, path) => {
      const res = await call(fixture.server, method, path);
      expect(res.status).toBe(404);
      expect(typeof res.body.error).toBe('string');
    });

    it.each([
      ['POST', '/todos/a', 'GET, PATCH, PUT, DELETE'],
      ['PATCH', '/todos', 'GET, POST'],
      ['DELETE', '/todos', 'GET, POST'],
    ])('answers 405 with Allow for %s %s', async (method, path, allow) => {
      const res = await call(fixture.server, method, path, { body: {} });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe(allow);
      expect(res.body.error).toMatch(/not allowed/);
    });

    it('changes nothing on any error', async () => {
      await call(fixture.server, 'POST', '/todos', { raw: 'nope' });
      await call(fixture.server, 'PATCH', '/todos/x', { body: { a: 1 } });
      await call(fixture.server, 'POST', '/todos/x', { body: { a: 1 } });
      expect(await fixture.server.db.writeLog()).toEqual([]);
    });
  });
});
