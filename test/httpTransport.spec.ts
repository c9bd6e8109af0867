import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { httpTransport, parseRetryAfter, type SyncItem } from '../src/index.js';

const seen: { method: string; url: string; headers: Record<string, string>; body: string }[] = [];
const server = setupServer(
  http.all('http://h.test/*', async ({ request }) => {
    seen.push({ method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body: await request.text() });
    return HttpResponse.json({ ok: true }, { status: 201, headers: { 'Retry-After': '3' } });
  }),
);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  seen.length = 0;
  server.resetHandlers();
});
afterAll(() => server.close());

const item = (operation: SyncItem['operation'], data: object): SyncItem => ({ id: 'key-1', entity: 'todos', operation, data, timestamp: '', retryCount: 0 });

describe('httpTransport', () => {
  it('maps operations to REST requests with the idempotency key and caller headers', async () => {
    const transport = httpTransport({ baseUrl: 'http://h.test/api', headers: () => ({ Authorization: 'Bearer t' }) });
    const response = await firstValueFrom(transport.push({ item: item('update', { id: 'a/b', x: 1 }), endpoint: '/todos' }));
    expect(response).toEqual({ status: 201, body: { ok: true }, retryAfterMs: 3000 });
    expect(seen[0]).toMatchObject({
      method: 'PATCH',
      url: 'http://h.test/api/todos/a%2Fb',
      headers: { authorization: 'Bearer t', 'idempotency-key': 'key-1', 'content-type': 'application/json' },
      body: '{"id":"a/b","x":1}',
    });
  });

  it('a client-wins overwrite is a PUT without If-Match, even when the data has a version', async () => {
    await firstValueFrom(httpTransport().push({ item: item('update', { id: 7, version: 2 }), endpoint: 'http://h.test/todos', overwrite: true }));
    expect(seen[0]).toMatchObject({ method: 'PUT', url: 'http://h.test/todos/7' });
    expect(seen[0].headers['if-match']).toBeUndefined();
  });

  it('pushBatch posts every request in one array to the batch endpoint', async () => {
    server.use(http.post('http://h.test/_batch', () => HttpResponse.json({ results: [{ key: 'key-1', status: 201, body: {} }, { key: 'key-1', status: 400, body: { e: 1 } }] })));
    const transport = httpTransport({ baseUrl: 'http://h.test' });
    const results = await lastValueFrom(
      transport.pushBatch!([
        { item: item('create', { id: '1' }), endpoint: '/todos' },
        { item: item('delete', { id: '2', version: 5 }), endpoint: '/todos' },
      ]),
    );
    expect(results).toEqual([{ status: 201, body: {} }, { status: 400, body: { e: 1 } }]);
  });

  it('pushBatch rejects an answer that does not match the requests, as a permanent error', async () => {
    server.use(http.post('http://h.test/_batch', () => HttpResponse.json({ results: [] })));
    const error = await lastValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pushBatch!([{ item: item('create', { id: '1' }), endpoint: '/todos' }])).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'SyncHttpError', transient: false, message: expect.stringMatching(/^\[rxsync\] POST http:\/\/h\.test\/_batch answered 200 with a body that is not \{ results/) });
  });

  it('pull sends since and validates the page', async () => {
    server.use(http.get('http://h.test/todos', () => HttpResponse.json({ items: [1], checkpoint: 42, hasMore: true })));
    const page = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pull({ entity: 'todos', endpoint: '/todos', since: 'a b' }));
    expect(page).toEqual({ items: [1], checkpoint: '42', hasMore: true });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:30 GMT'))).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
