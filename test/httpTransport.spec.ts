import { createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { http, HttpResponse, passthrough } from 'msw';
import { setupServer } from 'msw/node';
import { firstValueFrom, lastValueFrom, retry, tap } from 'rxjs';
import { httpTransport, parseRetryAfter, type SyncItem, type TransportResponse } from '../src/index.js';

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
  vi.unstubAllGlobals();
});
afterAll(() => server.close());

const item = (operation: SyncItem['operation'], data: object): SyncItem => ({ id: 'key-1', entity: 'todos', operation, data, timestamp: '', retryCount: 0 });
const failure = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => 'no error', (e: unknown) => e);
/** Retries like the engine does: a resubscription after a transient answer. */
const untilNotRetry = tap((response: TransportResponse) => {
  if (response.kind === 'retry') throw new Error(`retry: ${response.status}`);
});

describe('httpTransport', () => {
  it('maps operations to REST requests with the idempotency key and caller headers', async () => {
    const transport = httpTransport({ baseUrl: 'http://h.test/api', headers: () => ({ Authorization: 'Bearer t' }) });
    const response = await firstValueFrom(transport.push({ item: item('update', { id: 'a/b', x: 1 }), endpoint: '/todos' }));
    expect(response).toEqual({ status: 201, body: { ok: true }, retryAfterMs: 3000, kind: 'ack' });
    expect(seen[0]).toMatchObject({
      method: 'PATCH',
      url: 'http://h.test/api/todos/a%2Fb',
      headers: { authorization: 'Bearer t', 'idempotency-key': 'key-1', 'content-type': 'application/json' },
      body: '{"id":"a/b","x":1}',
    });
  });

  it('a client-wins overwrite is a PUT without If-Match, even when the data has a version', async () => {
    await firstValueFrom(httpTransport({ baseUrl: 'http://other.test' }).push({ item: item('update', { id: 7, version: 2 }), endpoint: 'http://h.test/todos', overwrite: true }));
    expect(seen[0]).toMatchObject({ method: 'PUT', url: 'http://h.test/todos/7' });
    expect(seen[0].headers['if-match']).toBeUndefined();
  });

  it('pushBatch posts every request in one array to the batch endpoint, each answer classified on its own', async () => {
    server.use(
      http.post('http://h.test/api/_batch', async ({ request }) => {
        seen.push({ method: 'POST', url: request.url, headers: {}, body: await request.text() });
        return HttpResponse.json({ results: [{ key: 'key-1', status: 201, body: {} }, { key: 'key-1', status: 400, body: { e: 1 } }] });
      }),
    );
    const transport = httpTransport({ baseUrl: 'http://h.test/api' });
    const results = await lastValueFrom(
      transport.pushBatch!([
        { item: item('create', { id: '1' }), endpoint: '/todos?v=1' },
        { item: item('delete', { id: '2', version: 5 }), endpoint: '/todos?v=1' },
      ]),
    );
    expect(results).toEqual([
      { status: 201, body: {}, kind: 'ack' },
      { status: 400, body: { e: 1 }, kind: 'fail', reason: '400: {"e":1}' },
    ]);
    // Sub-request paths stay relative to the API root, as the endpoints are.
    expect(JSON.parse(seen[0].body)).toEqual([
      { key: 'key-1', method: 'POST', path: '/todos?v=1', body: { id: '1' } },
      { key: 'key-1', method: 'DELETE', path: '/todos/2?v=1', ifMatch: '5' },
    ]);
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

  it('pull sends no since at all before the server gave a checkpoint', async () => {
    server.use(http.get('http://h.test/todos', ({ request }) => (seen.push({ method: 'GET', url: request.url, headers: {}, body: '' }), HttpResponse.json({ items: [] }))));
    await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pull({ entity: 'todos', endpoint: '/todos', since: undefined }));
    expect(seen.map((r) => r.url)).toEqual(['http://h.test/todos']);
  });
});

describe('httpTransport: nothing throws when a request is asked for', () => {
  it('a headers getter that throws fails that attempt like a lost request (retried), and the next attempt goes out', async () => {
    let calls = 0;
    const transport = httpTransport({
      baseUrl: 'http://h.test',
      headers: () => {
        if (++calls === 1) throw new Error('token store not ready');
        return { Authorization: 'Bearer ready' };
      },
    });
    const push$ = transport.push({ item: item('create', { id: '1' }), endpoint: '/todos' });
    const error = await failure(firstValueFrom(push$));
    expect(error).toMatchObject({ name: 'SyncHttpError', status: 0, transient: true, message: '[rxsync] options.headers failed, so the request was not sent: token store not ready.' });
    expect(seen).toEqual([]);
    await firstValueFrom(push$);
    expect(seen[0].headers.authorization).toBe('Bearer ready');
  });

  it('a headers Promise that rejects fails the attempt the same way, for pushes, batches and pulls', async () => {
    const transport = httpTransport({ baseUrl: 'http://h.test', headers: () => Promise.reject(new Error('refresh failed')) });
    const calls = [
      () => firstValueFrom(transport.push({ item: item('create', { id: '1' }), endpoint: '/todos' })),
      () => firstValueFrom(transport.pushBatch!([{ item: item('create', { id: '1' }), endpoint: '/todos' }])),
      () => firstValueFrom(transport.pull({ entity: 'todos', endpoint: '/todos' })),
    ];
    for (const call of calls) {
      expect(await failure(call())).toMatchObject({ name: 'SyncHttpError', status: 0, message: expect.stringMatching(/refresh failed\.$/) });
    }
    expect(seen).toEqual([]);
  });

  it.each([
    ['a lone surrogate', '👍x'.slice(1), /contains a lone surrogate/],
    ['..', '..', /is "\.\.", which a URL cannot carry/],
    ['.', '.', /is "\.", which a URL cannot carry/],
    ['%2e%2e', '%2e%2e', /is "%2e%2e", which a URL cannot carry/],
    ['empty', '', /is empty/],
  ])('an id no URL can carry (%s) fails that push with a SyncInputError, without a request', async (_name, id, message) => {
    const transport = httpTransport({ baseUrl: 'http://h.test' });
    let push$: unknown;
    expect(() => (push$ = transport.push({ item: item('update', { id }), endpoint: '/todos' }))).not.toThrow();
    const error = await failure(firstValueFrom(push$ as ReturnType<typeof transport.push>));
    expect(error).toMatchObject({ name: 'SyncInputError', message: expect.stringMatching(/^\[rxsync\] Write key-1 cannot be sent: its record id /) });
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/ Clear the write\.$/);
    // In a batch, the batch fails (not for good) so that the engine sends its items one by one.
    const batch = await failure(firstValueFrom(transport.pushBatch!([{ item: item('delete', { id }), endpoint: '/todos' }])));
    expect(batch).toMatchObject({ name: 'SyncHttpError', transient: false, message: expect.stringMatching(/^\[rxsync\] A batch was not sent: Write key-1 cannot be sent: its record id /) });
    expect(seen).toEqual([]);
  });
});

describe('httpTransport: headers per attempt', () => {
  it.each([401, 503])('a retry after a %i sends the refreshed token (headers may be async)', async (status) => {
    let token = 'old';
    server.use(
      http.post('http://h.test/todos', ({ request }) => {
        seen.push({ method: 'POST', url: request.url, headers: Object.fromEntries(request.headers), body: '' });
        if (seen.length > 1) return HttpResponse.json({ id: '1' }, { status: 201 });
        token = 'fresh';
        return HttpResponse.json({ error: 'expired' }, { status });
      }),
    );
    const transport = httpTransport({ baseUrl: 'http://h.test', headers: async () => ({ Authorization: `Bearer ${await Promise.resolve(token)}` }) });
    const push$ = transport.push({ item: item('create', { id: '1' }), endpoint: '/todos' });
    // 401 is not retried by default: the retry is the one an auth refresh would make.
    const retryOn = (response: TransportResponse) => {
      if (response.status === status) throw new Error(String(status));
    };
    const response = await firstValueFrom(push$.pipe(tap(retryOn), retry(1)));
    expect(response.status).toBe(201);
    expect(seen.map((r) => r.headers.authorization)).toEqual(['Bearer old', 'Bearer fresh']);
  });
});

describe('httpTransport: redirects', () => {
  it.each([301, 302, 303, 307, 308])('a push answered %i is a permanent failure naming the Location; the redirect is not followed', async (status) => {
    server.use(http.post('http://h.test/todos', () => new HttpResponse(null, { status, headers: { Location: 'http://h.test/login' } })));
    const response = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('create', { id: '1' }), endpoint: '/todos' }));
    expect(response).toMatchObject({ status, kind: 'fail', reason: expect.stringMatching(new RegExp(`^${status} to http://h\\.test/login: pushes never follow redirects`)) });
    expect(seen).toEqual([]); // the login page was never fetched
  });

  it('in a browser, the opaque redirect fetch gives for redirect: manual (status 0) is the same permanent failure', async () => {
    const inits: RequestInit[] = [];
    const opaque = { type: 'opaqueredirect', status: 0, ok: false, headers: new Headers(), text: async () => '' } as unknown as Response;
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => (inits.push(init), opaque));
    const response = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('update', { id: '1' }), endpoint: '/todos' }));
    expect(inits[0].redirect).toBe('manual');
    expect(response).toMatchObject({ status: 0, kind: 'fail', reason: expect.stringMatching(/^a redirect \(the browser hides where to\): pushes never follow redirects/) });
    const batch = await failure(firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pushBatch!([{ item: item('create', { id: '1' }), endpoint: '/todos' }])));
    expect(batch).toMatchObject({ name: 'SyncHttpError', transient: false, message: expect.stringMatching(/answered a redirect\.$/) });
  });

  it('a push answered 200 with an HTML page is an ack: only the status is trusted', async () => {
    server.use(http.post('http://h.test/todos', () => HttpResponse.html('<html>Sign in</html>')));
    const response = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('create', { id: '1' }), endpoint: '/todos' }));
    expect(response).toMatchObject({ status: 200, kind: 'ack', body: '<html>Sign in</html>' });
  });

  it('a pull follows redirects', async () => {
    server.use(
      http.get('http://h.test/old', () => new HttpResponse(null, { status: 301, headers: { Location: 'http://h.test/todos' } })),
      http.get('http://h.test/todos', () => HttpResponse.json({ items: ['moved'] })),
    );
    const page = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pull({ entity: 'todos', endpoint: '/old' }));
    expect(page.items).toEqual(['moved']);
  });
});

describe('httpTransport: answers classified', () => {
  const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) =>
    server.use(http.all('http://h.test/todos*', () => (body === undefined ? new HttpResponse(null, { status, headers }) : HttpResponse.json(body, { status, headers }))));
  const push = (operation: SyncItem['operation'] = 'update', options = {}) =>
    firstValueFrom(httpTransport({ baseUrl: 'http://h.test', ...options }).push({ item: item(operation, { id: '1' }), endpoint: '/todos' }));

  it('a transient answer keeps what the server said (cut to 200 characters) for the retry message', async () => {
    server.use(http.post('http://h.test/todos', () => HttpResponse.text('Insert failed, duplicate id', { status: 503 })));
    expect(await push('create')).toMatchObject({ kind: 'retry', reason: '503: "Insert failed, duplicate id"' });
    server.use(http.post('http://h.test/todos', () => HttpResponse.text('x'.repeat(500), { status: 500 })));
    expect((await push('create')).reason).toBe(`500: "${'x'.repeat(199)}…`);
  });

  it('409 and 412 with the current record are conflicts; an idempotency problem is not', async () => {
    answer(409, { id: '1', title: 'theirs' });
    const conflict = await push();
    expect(conflict).toMatchObject({ kind: 'conflict', body: { id: '1', title: 'theirs' } });
    expect(conflict.reason).toBeUndefined();
    answer(412, { id: '1', title: 'theirs' });
    expect(await push()).toMatchObject({ kind: 'conflict' });
    answer(409, { type: 'urn:rxsync:problem:idempotency-key-in-use', title: 'A request with this key is being processed' }, { 'Retry-After': '1' });
    expect(await push()).toMatchObject({ kind: 'retry', retryAfterMs: 1000, reason: expect.stringMatching(/still processing an earlier request with this Idempotency-Key/) });
    answer(422, { type: 'urn:rxsync:problem:idempotency-key-mismatch' });
    expect(await push()).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/already used for a different request .* clear it and write it again/) });
  });

  it('a 409 without a usable record is a conflict that says so', async () => {
    answer(409, { error: 'conflict' });
    expect(await push()).toMatchObject({ kind: 'conflict', reason: '409 without the current record: {"error":"conflict"}' });
    answer(409);
    expect(await push()).toMatchObject({ kind: 'conflict', reason: '409 without the current record (empty body)' });
  });

  it('an answer without a body (204) has no body, not an empty string', async () => {
    answer(204);
    expect(await push()).toEqual({ status: 204, body: undefined, kind: 'ack' });
  });

  it('a DELETE answered 404 is an ack marked "already gone"; another 404 fails', async () => {
    answer(404, { error: 'not found' });
    expect(await push('delete')).toMatchObject({ kind: 'ack', reason: 'already gone' });
    expect(await push('update')).toMatchObject({ kind: 'fail', reason: '404: {"error":"not found"}' });
  });

  it('options.classify maps a non-conforming server; undefined keeps the default; a bad classify fails the write', async () => {
    answer(500, { error: 'duplicate id' });
    const classify = (response: TransportResponse) => (response.status === 500 && JSON.stringify(response.body).includes('duplicate') ? 'ack' : undefined);
    expect(await push('create', { classify })).toMatchObject({ kind: 'ack', reason: `500: {"error":"duplicate id"} (read as 'ack' by options.classify)` });
    expect(await push('create', { classify: () => undefined })).toMatchObject({ kind: 'retry' });
    expect(await push('create', { classify: () => 'ok' as never })).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/^options\.classify returned "ok" for the answer 500/) });
    const throwing = () => {
      throw new Error('boom');
    };
    expect(await push('create', { classify: throwing })).toMatchObject({ kind: 'fail', reason: expect.stringMatching(/^options\.classify threw for the answer 500: .*: boom\. Fix classify/) });
  });
});

describe('httpTransport: Retry-After', () => {
  it('parses seconds or an HTTP date; ignores negative and garbage values; a past date is now', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:27:30 GMT');
    expect(parseRetryAfter('120')).toBe(120_000);
    expect(parseRetryAfter('1.5')).toBe(1500);
    expect(parseRetryAfter('1.25')).toBe(1250);
    // parseRetryAfter is public: a header value read some other way than fetch's may keep its spaces.
    expect(parseRetryAfter(' 120 ')).toBe(120_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now)).toBe(0);
    for (const garbage of ['soon', '-5', '-1', '1e3', '0x10', '', '  ', null]) expect(parseRetryAfter(garbage)).toBeUndefined();
  });

  it('cuts a huge value to one hour by default, to the option, and never beyond what a timer can wait', () => {
    expect(parseRetryAfter('2592000')).toBe(3_600_000);
    expect(parseRetryAfter('Fri, 01 Jan 2100 00:00:00 GMT')).toBe(3_600_000);
    expect(parseRetryAfter('2592000', Date.now(), 60_000)).toBe(60_000);
    expect(parseRetryAfter('2592000', Date.now(), Number.MAX_VALUE)).toBe(2 ** 31 - 1);
  });

  it('the transport applies maxRetryAfterMs to every answer', async () => {
    server.use(http.all('http://h.test/todos', () => new HttpResponse(null, { status: 503, headers: { 'Retry-After': '2592000' } })));
    const push = (options: object) => firstValueFrom(httpTransport({ baseUrl: 'http://h.test', ...options }).push({ item: item('create', { id: '1' }), endpoint: '/todos' }));
    expect((await push({})).retryAfterMs).toBe(3_600_000);
    expect((await push({ maxRetryAfterMs: 60_000 })).retryAfterMs).toBe(60_000);
    expect((await push({ maxRetryAfterMs: 1e12 })).retryAfterMs).toBe(2 ** 31 - 1);
    const error = await failure(firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pull({ entity: 'todos', endpoint: '/todos' })));
    expect(error).toMatchObject({ status: 503, retryAfterMs: 3_600_000 });
  });
});

describe('httpTransport: URLs', () => {
  const urls = async (baseUrl: string, endpoint: string) => {
    const transport = httpTransport({ baseUrl });
    await firstValueFrom(transport.push({ item: item('create', { id: 7 }), endpoint }));
    await firstValueFrom(transport.push({ item: item('update', { id: 7 }), endpoint }));
    server.use(http.get('http://h.test/*', ({ request }) => (seen.push({ method: 'GET', url: request.url, headers: {}, body: '' }), HttpResponse.json({ items: [] }))));
    await firstValueFrom(transport.pull({ entity: 'todos', endpoint, since: '9' }));
    return seen.map((r) => `${r.method} ${r.url}`);
  };

  it('an endpoint with a query string keeps it on every request', async () => {
    expect(await urls('http://h.test', '/todos?api-version=1')).toEqual([
      'POST http://h.test/todos?api-version=1',
      'PATCH http://h.test/todos/7?api-version=1',
      'GET http://h.test/todos?api-version=1&since=9',
    ]);
  });

  it.each(['http://h.test/api', 'http://h.test/api/'])('baseUrl %s, with or without a trailing slash, prefixes the endpoint', async (baseUrl) => {
    expect(await urls(baseUrl, '/todos')).toEqual(['POST http://h.test/api/todos', 'PATCH http://h.test/api/todos/7', 'GET http://h.test/api/todos?since=9']);
  });

  it("baseUrl's own query string is kept and joined with the endpoint's", async () => {
    expect(await urls('http://h.test/api?key=k', 'todos?v=2')).toEqual([
      'POST http://h.test/api/todos?key=k&v=2',
      'PATCH http://h.test/api/todos/7?key=k&v=2',
      'GET http://h.test/api/todos?key=k&v=2&since=9',
    ]);
  });

  it('an absolute endpoint that is not a URL fails its writes with a SyncInputError', async () => {
    const error = await failure(firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('create', {}), endpoint: 'http://' })));
    expect(error).toMatchObject({ name: 'SyncInputError', message: '[rxsync] The endpoint "http://" is not a URL, so no write to it can be sent. Fix the entity\'s endpoint in options.entities.' });
  });

  it('a path endpoint whose query string carries a URL is still a path under baseUrl', async () => {
    expect(await urls('http://h.test/api', '/todos?from=http://app.test/')).toEqual([
      'POST http://h.test/api/todos?from=http://app.test/',
      'PATCH http://h.test/api/todos/7?from=http://app.test/',
      // The pull writes its query anew, encoded: the same value to the server.
      'GET http://h.test/api/todos?from=http%3A%2F%2Fapp.test%2F&since=9',
    ]);
  });

  it('an absolute endpoint stands on its own', async () => {
    expect(await urls('http://other.test/api', 'http://h.test/todos')).toEqual(['POST http://h.test/todos', 'PATCH http://h.test/todos/7', 'GET http://h.test/todos?since=9']);
  });

  it('in a browser, endpoints hang off the page origin, or off a relative baseUrl', async () => {
    vi.stubGlobal('location', new URL('http://h.test/app/page?x=1'));
    await firstValueFrom(httpTransport().push({ item: item('update', { id: 7 }), endpoint: '/todos' }));
    await firstValueFrom(httpTransport({ baseUrl: '/api' }).push({ item: item('update', { id: 7 }), endpoint: '/todos' }));
    expect(seen.map((r) => r.url)).toEqual(['http://h.test/todos/7', 'http://h.test/api/todos/7']);
  });
});

describe('httpTransport: options checked at construction', () => {
  it.each([
    ['no baseUrl outside a browser', {}, /^\[rxsync\] httpTransport: baseUrl is missing, and outside a browser there is no page address .* Pass the API's absolute http\(s\) address, e\.g\. httpTransport\(\{ baseUrl: 'https:\/\/api\.example\.com' \}\)/],
    ['a relative baseUrl outside a browser', { baseUrl: 'api.example.com' }, /baseUrl "api\.example\.com" is not a URL \(outside a browser it must be absolute\)\. Pass/],
    ['a baseUrl that is not http(s)', { baseUrl: 'ftp://files.example.com' }, /baseUrl "ftp:\/\/files\.example\.com" is not an http\(s\) address/],
    ['a baseUrl that is not a string', { baseUrl: 42 }, /baseUrl must be a string, got 42/],
    ['maxRetryAfterMs NaN', { baseUrl: 'http://h.test', maxRetryAfterMs: Number.NaN }, /maxRetryAfterMs must be a number of milliseconds ≥ 0/],
    ['maxRetryAfterMs negative', { baseUrl: 'http://h.test', maxRetryAfterMs: -1 }, /maxRetryAfterMs must be a number/],
    ['headers a string', { baseUrl: 'http://h.test', headers: 'Bearer x' }, /headers must be an object of header names to values, or a function/],
    ['classify not a function', { baseUrl: 'http://h.test', classify: 'ack' }, /classify must be a function/],
  ])('%s throws a SyncOptionsError that says what to pass', (_name, options, message) => {
    expect(() => httpTransport(options as never)).toThrow(expect.objectContaining({ name: 'SyncOptionsError', message: expect.stringMatching(message) }));
  });
});

describe('httpTransport: network errors', () => {
  it('keep their cause (ECONNREFUSED) and the request in the message', async () => {
    const port = await closedPort();
    server.use(http.all(`http://127.0.0.1:${port}/*`, () => passthrough()));
    const error = await failure(firstValueFrom(httpTransport({ baseUrl: `http://127.0.0.1:${port}` }).push({ item: item('create', { id: '1' }), endpoint: '/todos' })));
    expect(error).toMatchObject({
      name: 'SyncHttpError',
      status: 0,
      transient: true,
      message: expect.stringMatching(new RegExp(`^\\[rxsync\\] Network error on POST http://127\\.0\\.0\\.1:${port}/todos: fetch failed \\(.*ECONNREFUSED.*\\)\\.$`)),
    });
  });

  it("a failed pull quotes the server's body", async () => {
    server.use(http.get('http://h.test/todos', () => HttpResponse.text('database is down', { status: 503 })));
    const error = await failure(firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pull({ entity: 'todos', endpoint: '/todos' })));
    expect(error).toMatchObject({ message: '[rxsync] Pulling "todos" failed: GET http://h.test/todos answered 503: "database is down".' });
  });
});

/** A loopback port nobody listens on: bound, then closed. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('httpTransport: what goes on the wire, edge by edge', () => {
  it('a request without a body carries no Content-Type; a batch is JSON', async () => {
    server.use(http.post('http://h.test/_batch', async ({ request }) => (seen.push({ method: 'POST', url: request.url, headers: Object.fromEntries(request.headers), body: '' }), HttpResponse.json({ results: [{ status: 200 }] }))));
    const transport = httpTransport({ baseUrl: 'http://h.test' });
    await firstValueFrom(transport.push({ item: item('delete', { id: 7 }), endpoint: '/todos' }));
    await firstValueFrom(transport.pushBatch!([{ item: item('delete', { id: 8 }), endpoint: '/todos' }]));
    expect(seen.map((r) => [r.method, r.headers['content-type']])).toEqual([
      ['DELETE', undefined],
      ['POST', 'application/json'],
    ]);
  });

  it('a client-wins re-send of a delete is a plain DELETE, without a body', async () => {
    await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('delete', { id: 7, version: 2 }), endpoint: '/todos', overwrite: true }));
    expect(seen.map((r) => [r.method, r.url, r.body, r.headers['if-match']])).toEqual([['DELETE', 'http://h.test/todos/7', '', undefined]]);
  });

  it('an endpoint written with a trailing slash gets no doubled slash before the record id', async () => {
    await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('update', { id: 7 }), endpoint: '/todos/' }));
    expect(seen[0].url).toBe('http://h.test/todos/7');
  });

  it('a batch entry for an absolute endpoint names its whole URL', async () => {
    server.use(http.post('http://h.test/_batch', async ({ request }) => (seen.push({ method: 'POST', url: request.url, headers: {}, body: await request.text() }), HttpResponse.json({ results: [{ status: 201 }] }))));
    await firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pushBatch!([{ item: item('create', { id: '1' }), endpoint: 'http://other.test/todos' }]));
    expect(JSON.parse(seen[0].body)).toEqual([{ key: 'key-1', method: 'POST', path: 'http://other.test/todos', body: { id: '1' } }]);
  });

  it('data that is not JSON (stored by something else) fails its write, or its batch for the engine to split, saying which', async () => {
    const circular: Record<string, unknown> = { id: '1' };
    circular.self = circular;
    const transport = httpTransport({ baseUrl: 'http://h.test' });
    const single = await failure(firstValueFrom(transport.push({ item: item('create', circular), endpoint: '/todos' })));
    expect(single).toMatchObject({ name: 'SyncInputError', message: expect.stringMatching(/^\[rxsync\] The data of write key-1 cannot be sent as JSON \(.*circular.*\)\. Clear the write\.$/is) });
    const batch = await failure(firstValueFrom(transport.pushBatch!([{ item: item('create', circular), endpoint: '/todos' }])));
    expect(batch).toMatchObject({ name: 'SyncHttpError', status: 422, message: expect.stringMatching(/^\[rxsync\] A batch was not sent: The data of a batch cannot be sent as JSON \(/) });
    expect(seen).toEqual([]);
  });
});

describe('httpTransport: what the caller gives, checked', () => {
  it('an https baseUrl is taken, and so are maxRetryAfterMs 0 and an explicit batchEndpoint', () => {
    expect(() => httpTransport({ baseUrl: 'https://api.example.com', maxRetryAfterMs: 0, batchEndpoint: '/batch' })).not.toThrow();
  });

  it.each([
    ['headers null', { headers: null }, /headers must be an object of header names to values/],
    ['batchEndpoint not a string', { batchEndpoint: 42 }, /^\[rxsync\] httpTransport: batchEndpoint must be a path or URL string, e\.g\. '\/_batch'; got 42\.$/],
    ['maxRetryAfterMs a string', { maxRetryAfterMs: '5' }, /maxRetryAfterMs must be a number of milliseconds ≥ 0/],
  ])('%s throws a SyncOptionsError', (_name, options, message) => {
    expect(() => httpTransport({ baseUrl: 'http://h.test', ...options } as never)).toThrow(expect.objectContaining({ name: 'SyncOptionsError', message: expect.stringMatching(message) }));
  });

  it('a headers getter that gives no object fails that attempt (retried); one that gives undefined sends no extra header', async () => {
    for (const [value, shown] of [[null, 'null'], ['Bearer x', '"Bearer x"']] as const) {
      const error = await failure(firstValueFrom(httpTransport({ baseUrl: 'http://h.test', headers: () => value as never }).push({ item: item('create', { id: '1' }), endpoint: '/todos' })));
      expect(error).toMatchObject({
        name: 'SyncHttpError',
        transient: true,
        message: `[rxsync] options.headers gave ${shown}, so the request was not sent; it must give an object of header names to values.`,
      });
    }
    expect(seen).toEqual([]);
    await firstValueFrom(httpTransport({ baseUrl: 'http://h.test', headers: () => undefined as never }).push({ item: item('create', { id: '1' }), endpoint: '/todos' }));
    expect(seen[0].headers.authorization).toBeUndefined();
  });

  it('a headers getter whose error ends a sentence is quoted without a doubled full stop', async () => {
    const transport = httpTransport({
      baseUrl: 'http://h.test',
      headers: () => {
        throw new Error('token store closed.');
      },
    });
    const error = await failure(firstValueFrom(transport.push({ item: item('create', { id: '1' }), endpoint: '/todos' })));
    expect((error as Error).message).toBe('[rxsync] options.headers failed, so the request was not sent: token store closed.');
  });

  it.each([
    ['conflict', 400],
    ['retry', 400],
    ['fail', 503],
  ] as const)("options.classify's %s, where the default reads otherwise, says it was classify's reading", async (kind, status) => {
    server.use(http.all('http://h.test/*', () => HttpResponse.json({ id: '1' }, { status })));
    const response = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test', classify: () => kind }).push({ item: item('update', { id: '1' }), endpoint: '/todos' }));
    expect(response).toMatchObject({ kind, reason: `${status}: {"id":"1"} (read as '${kind}' by options.classify)` });
  });

  it("options.classify agreeing with the default keeps the default's reason", async () => {
    server.use(http.all('http://h.test/*', () => HttpResponse.json({ id: '1' }, { status: 400 })));
    const response = await firstValueFrom(httpTransport({ baseUrl: 'http://h.test', classify: () => 'fail' }).push({ item: item('update', { id: '1' }), endpoint: '/todos' }));
    expect(response).toMatchObject({ kind: 'fail', reason: '400: {"id":"1"}' });
  });

  it('in a browser, a baseUrl that is not a URL is named without the advice for outside a browser', () => {
    vi.stubGlobal('location', new URL('http://h.test/app/'));
    expect(() => httpTransport({ baseUrl: 'http://[' })).toThrow(expect.objectContaining({ message: expect.stringMatching(/^\[rxsync\] httpTransport: baseUrl "http:\/\/\[" is not a URL\. Pass/) }));
  });
});

describe('httpTransport: batch answers it cannot use', () => {
  const batchAnswer = async (status: number, body: unknown) => {
    server.use(http.post('http://h.test/_batch', () => HttpResponse.json(body as never, { status })));
    const requests = [
      { item: item('create', { id: '1' }), endpoint: '/todos' },
      { item: item('create', { id: '2' }), endpoint: '/todos' },
    ];
    return failure(lastValueFrom(httpTransport({ baseUrl: 'http://h.test' }).pushBatch!(requests)));
  };

  it('a 300 is not a batch answer: the items go one by one', async () => {
    expect(await batchAnswer(300, {})).toMatchObject({ name: 'SyncHttpError', status: 300, message: '[rxsync] The batch request POST http://h.test/_batch answered 300: {}.' });
  });

  it.each([
    ['without a body', undefined],
    ['null', null],
  ])('a 200 %s (a proxy rewrote it) fails the batch, not for good', async (_name, body) => {
    expect(await batchAnswer(200, body)).toMatchObject({ name: 'SyncHttpError', status: 422, transient: false });
  });

  it.each([
    ['null', [null]],
    ['a number', [7]],
    ['a status that is not a number', [{ status: '201' }]],
  ])('a second result that is %s fails the batch, not for good', async (_name, results) => {
    expect(await batchAnswer(200, { results: [{ status: 201 }, ...results] })).toMatchObject({
      name: 'SyncHttpError',
      status: 422,
      transient: false,
      message: expect.stringMatching(/with a body that is not \{ results: \[\{ status, body \}\] \} for 2 requests/),
    });
  });
});

describe('httpTransport: what a request that got no answer says', () => {
  it.each([
    ['the cause message', { message: 'connect ECONNREFUSED 127.0.0.1:9', code: 'ECONNREFUSED' }, ' (connect ECONNREFUSED 127.0.0.1:9)'],
    ['the cause code when its message is empty', { message: '', code: 'ENOTFOUND' }, ' (ENOTFOUND)'],
    ['the cause code when it has no message', { code: 'ETIMEDOUT' }, ' (ETIMEDOUT)'],
    ['nothing more without a cause', undefined, ''],
    ['nothing more when the cause says nothing readable', { message: 7, code: 8 }, ''],
  ])('names %s', async (_name, cause, detail) => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed', cause === undefined ? undefined : { cause })));
    const error = await failure(firstValueFrom(httpTransport({ baseUrl: 'http://h.test' }).push({ item: item('create', { id: '1' }), endpoint: '/todos' })));
    expect(error).toMatchObject({ name: 'SyncHttpError', status: 0, message: `[rxsync] Network error on POST http://h.test/todos: fetch failed${detail}.` });
  });
});
