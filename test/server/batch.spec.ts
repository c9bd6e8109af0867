import { describe, expect, it } from 'vitest';
import { call, useServer } from './helpers.js';

describe('reference server: POST /_batch', () => {
  const fixture = useServer();

  it('answers one result per sub-request, in order, each processed like the single request', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'taken', v: 'server' } });
    await call(fixture.server, 'POST', '/todos', { body: { id: 'gone' } });
    await call(fixture.server, 'DELETE', '/todos/gone');
    const res = await call(fixture.server, 'POST', '/_batch', {
      body: [
        { key: 'k1', method: 'POST', path: '/todos', body: { id: 'x', title: 'ok' } },
        { key: 'k2', method: 'POST', path: '/todos', body: { id: 'taken', v: 'client' } },
        { key: 'k3', method: 'PATCH', path: '/todos/missing', body: { a: 1 } },
        { key: 'k4', method: 'PATCH', path: '/todos/x', body: 'not an object' },
        { key: 'k5', method: 'PATCH', path: '/todos/x', body: { done: true }, ifMatch: '"1"' },
        { key: 'k6', method: 'PATCH', path: '/todos/x', body: { done: false }, ifMatch: 1 },
        { key: 'k7', method: 'PUT', path: '/notes/n1', body: { text: 'hi' } },
        { key: 'k8', method: 'DELETE', path: '/todos/gone' },
        { method: 'DELETE', path: '/todos/taken' },
      ],
    });
    expect(res.status).toBe(200);
    const results = res.body.results;
    expect(results.map((r: any) => [r.key, r.status])).toEqual([
      ['k1', 201],
      ['k2', 409],
      ['k3', 404],
      ['k4', 400],
      ['k5', 200],
      ['k6', 409],
      ['k7', 200],
      ['k8', 404],
      [null, 200],
    ]);
    expect(results[1].body).toMatchObject({ id: 'taken', v: 'server', version: 1 });
    expect(results[5].body).toMatchObject({ id: 'x', done: true, version: 2 });
    expect(results[3].body.error).toMatch(/JSON object/);
    expect(await fixture.server.db.record('todos', 'x')).toMatchObject({ done: true, version: 2 });
    expect(await fixture.server.db.records('notes')).toMatchObject([{ id: 'n1', text: 'hi' }]);
    expect(await fixture.server.db.record('todos', 'taken')).toMatchObject({ deleted: true });
  });

  it('reports malformed sub-requests per item without failing the others', async () => {
    const res = await call(fixture.server, 'POST', '/_batch', {
      body: [
        42,
        { method: 'GET', path: '/todos' },
        { method: 'POST' },
        { method: 'POST', path: '/__reset' },
        { method: 'POST', path: '/todos/a', body: {} },
        { method: 'PATCH', path: '/todos', body: {} },
        { key: 5, method: 'POST', path: '/todos', body: {} },
        { method: 'PATCH', path: '/todos/a', body: {}, ifMatch: {} },
        { method: 'post', path: '/todos', body: { id: 'fine' } },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: any) => r.status)).toEqual([400, 400, 400, 404, 405, 405, 400, 400, 201]);
    for (const result of res.body.results.slice(0, -1)) expect(typeof result.body.error).toBe('string');
    expect(await fixture.server.db.writeLog()).toHaveLength(1);
  });

  it('honours idempotency keys per item, shared with single requests', async () => {
    const single = await call(fixture.server, 'POST', '/todos', { body: { title: 'single' }, headers: { 'Idempotency-Key': 's' } });
    const batch = [
      { key: 's', method: 'POST', path: '/todos', body: { title: 'single' } },
      { key: 'b', method: 'POST', path: '/todos', body: { title: 'batched' } },
      { key: 'b', method: 'POST', path: '/todos', body: { title: 'batched' } },
    ];
    const first = await call(fixture.server, 'POST', '/_batch', { body: batch });
    expect(first.body.results[0]).toEqual({ key: 's', status: 201, body: single.body });
    expect(first.body.results[2]).toEqual(first.body.results[1]);
    const again = await call(fixture.server, 'POST', '/_batch', { body: batch });
    expect(again.body).toEqual(first.body);
    expect((await fixture.server.db.writeLog()).map((w) => w.idempotencyKey)).toEqual(['s', 'b']);
    expect(await fixture.server.db.records('todos')).toHaveLength(2);
  });

  it('answers 400 when the body is not an array or not JSON, 405 for other methods', async () => {
    for (const raw of ['{"method":"POST"}', '', 'null', '[']) {
      const res = await call(fixture.server, 'POST', '/_batch', { raw });
      expect(res.status).toBe(400);
      expect(typeof res.body.error).toBe('string');
    }
    expect((await call(fixture.server, 'GET', '/_batch')).status).toBe(405);
  });

  it('an empty batch answers no results', async () => {
    expect((await call(fixture.server, 'POST', '/_batch', { body: [] })).body).toEqual({ results: [] });
  });
});
