import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { firstValueFrom } from 'rxjs';
import { arrayPage, dataPage, httpTransport, linkNext, SyncHttpError, type HttpPullOptions, type PageReader, type PullPage } from '../../src/index.js';

const BASE = 'http://list.test';
/** Every GET as `path?query`, with the conditional headers it carried. */
const asked: { url: string; ifNoneMatch: string | null; ifModifiedSince: string | null; cacheControl: string | null; auth: string | null; accept: string | null }[] = [];
type Reply = (url: URL) => Response;
let reply: Reply = () => HttpResponse.json([]);
const server = setupServer(
  http.get(`${BASE}/*`, ({ request }) => {
    const url = new URL(request.url);
    asked.push({
      url: `${url.pathname}${url.search}`,
      ifNoneMatch: request.headers.get('If-None-Match'),
      ifModifiedSince: request.headers.get('If-Modified-Since'),
      cacheControl: request.headers.get('Cache-Control'),
      auth: request.headers.get('Authorization'),
      accept: request.headers.get('Accept'),
    });
    return reply(url);
  }),
);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  asked.length = 0;
  reply = () => HttpResponse.json([]);
});
afterAll(() => server.close());

function pull(pullOptions: HttpPullOptions, request: { since?: string; state?: unknown } = {}): Promise<PullPage> {
  const transport = httpTransport({ baseUrl: BASE, pull: pullOptions, headers: () => ({ Authorization: 'Bearer t' }) });
  return firstValueFrom(transport.pull({ entity: 'todos', endpoint: '/todos', ...request }));
}

/** `/todos?page=N` answers `pages[N - 1]` (page 1 without the parameter), with a Link to the next one. */
function pagedArray(pages: unknown[][], headers: (page: number) => Record<string, string> = () => ({})): Reply {
  return (url) => {
    const page = Number(url.searchParams.get('page') ?? '1');
    const link: Record<string, string> = page < pages.length ? { Link: `</todos?page=${page + 1}>; rel="next", </todos?page=1>; rel="first"` } : {};
    return HttpResponse.json(pages[page - 1], { headers: { ...link, ...headers(page) } });
  };
}

describe('pull adapters: where the checkpoint goes', () => {
  it('in a query parameter of your choice, and not at all on the first pull', async () => {
    reply = () => HttpResponse.json({ items: [] });
    await pull({ since: 'updated_after' });
    await pull({ since: 'updated_after' }, { since: '2030-01-01T00:00:00Z' });
    expect(asked.map((a) => a.url)).toEqual(['/todos', '/todos?updated_after=2030-01-01T00%3A00%3A00Z']);
    expect(asked[0].auth).toBe('Bearer t');
  });

  it('in a URL your function builds, called on the first pull too (e.g. for paging parameters); a parameter keeps an endpoint query as written', async () => {
    reply = () => HttpResponse.json({ items: [] });
    const transport = httpTransport({ baseUrl: BASE, pull: { since: (url, checkpoint) => `${url}&limit=50${checkpoint === undefined ? '' : `&cursor=${checkpoint}`}` } });
    await firstValueFrom(transport.pull({ entity: 'todos', endpoint: '/todos?sort=seq' }));
    await firstValueFrom(transport.pull({ entity: 'todos', endpoint: '/todos?sort=seq', since: 'c9' }));
    const named = httpTransport({ baseUrl: BASE, pull: { since: 'from' } });
    await firstValueFrom(named.pull({ entity: 'todos', endpoint: '/todos?sort=seq', since: 'c9' }));
    expect(asked.map((a) => a.url)).toEqual(['/todos?sort=seq&limit=50', '/todos?sort=seq&limit=50&cursor=c9', '/todos?sort=seq&from=c9']);
  });
});

describe('pull adapters: how an answer becomes a page', () => {
  it('the default reads the protocol feed { items, checkpoint, hasMore } as before', async () => {
    reply = () => HttpResponse.json({ items: [{ id: '1' }], checkpoint: 7, hasMore: true });
    expect(await pull({})).toEqual({ items: [{ id: '1' }], checkpoint: '7', hasMore: true, state: undefined });
  });

  it('arrayPage: a plain array; Link rel="next" pages are followed and handed on as one page', async () => {
    reply = pagedArray([[{ id: 1 }, { id: 2 }], [{ id: 3 }], [{ id: 4 }]]);
    const page = await pull({ page: arrayPage });
    expect(page.items).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    expect(page).toMatchObject({ checkpoint: undefined, hasMore: false });
    expect(asked.map((a) => a.url)).toEqual(['/todos', '/todos?page=2', '/todos?page=3']);
    expect(asked.every((a) => a.auth === 'Bearer t')).toBe(true);
  });

  it('arrayPage on a body that is not an array fails with what to do', async () => {
    reply = () => HttpResponse.json({ items: [] });
    await expect(pull({ page: arrayPage })).rejects.toThrow(/^\[rxsync\] Pulling "todos": GET http:\/\/list\.test\/todos answered 200 with a body that is not a JSON array \(got \{"items":\[\]\}\)/);
  });

  it('dataPage: { data, next } with next as a URL, or as a cursor for a query parameter', async () => {
    reply = (url) =>
      url.searchParams.get('page') === '2' ? HttpResponse.json({ data: [{ id: 'b' }], next: null }) : HttpResponse.json({ data: [{ id: 'a' }], next: '/todos?page=2' });
    expect((await pull({ page: dataPage() })).items).toEqual([{ id: 'a' }, { id: 'b' }]);
    asked.length = 0;
    reply = (url) =>
      url.searchParams.get('after') === 'k1' ? HttpResponse.json({ results: [{ id: 'b' }] }) : HttpResponse.json({ results: [{ id: 'a' }], cursor: 'k1' });
    expect((await pull({ page: dataPage({ items: 'results', next: 'cursor', cursorParam: 'after' }) })).items).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(asked.map((a) => a.url)).toEqual(['/todos', '/todos?after=k1']);
  });

  it('dataPage names the missing field', async () => {
    reply = () => HttpResponse.json({ rows: [] });
    await expect(pull({ page: dataPage() })).rejects.toThrow(/has no "data" array .* Set dataPage\(\{ items: '<field>' \}\)/);
  });

  it('checkpointOf derives the checkpoint from the items; an empty listing keeps the old one', async () => {
    const newest = (items: readonly unknown[]) => (items as { updatedAt: string }[]).map((i) => i.updatedAt).sort().at(-1);
    reply = () => HttpResponse.json([{ id: 1, updatedAt: '2030-01-02' }, { id: 2, updatedAt: '2030-01-03' }]);
    expect((await pull({ page: arrayPage, since: 'updated_gte', checkpointOf: newest })).checkpoint).toBe('2030-01-03');
    reply = () => HttpResponse.json([]);
    expect((await pull({ page: arrayPage, since: 'updated_gte', checkpointOf: newest }, { since: '2030-01-03' })).checkpoint).toBe('2030-01-03');
  });

  it('paging that loops, or never ends, fails instead of spinning', async () => {
    reply = () => HttpResponse.json([{ id: 1 }], { headers: { Link: '</todos?page=1>; rel="next"' } });
    await expect(pull({ page: arrayPage })).rejects.toThrow(/the next page http:\/\/list\.test\/todos\?page=1 was already read in this pull/);
    let n = 0;
    reply = () => HttpResponse.json([{ id: 1 }], { headers: { Link: `</todos?page=${++n}>; rel="next"` } });
    await expect(pull({ page: arrayPage, maxPages: 3 })).rejects.toThrow(/still more pages after 3; stopped/);
    expect(asked).toHaveLength(2 + 3);
  });

  it('a failing page fails the whole pull with the status and Retry-After', async () => {
    reply = (url) => (url.searchParams.has('page') ? HttpResponse.json({ error: 'busy' }, { status: 503, headers: { 'Retry-After': '2' } }) : pagedArray([[{ id: 1 }], [{ id: 2 }]])(url));
    const error = await pull({ page: arrayPage }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncHttpError);
    expect(error).toMatchObject({ status: 503, retryAfterMs: 2000, message: '[rxsync] Pulling "todos" failed: GET http://list.test/todos?page=2 answered 503: {"error":"busy"}.' });
  });
});

describe('pull adapters: options and readers that are wrong', () => {
  it.each([
    ['no items', { rows: [] }, '{"rows":[]}'],
    ['null', null, 'null'],
    ['nothing', undefined, 'undefined'],
    ['a checkpoint that is not a string', { items: [], checkpoint: 42 }, '{"items":[],"checkpoint":42}'],
  ])('a page reader returning %s fails the pull with what it must return', async (_what, returned, shown) => {
    reply = () => HttpResponse.json({ rows: [] });
    const reader = (() => returned) as unknown as PageReader;
    await expect(pull({ page: reader })).rejects.toThrow(
      `[rxsync] Pulling "todos": the page reader returned ${shown} for GET http://list.test/todos; it must return { items: [...], checkpoint?: string, hasMore?: boolean, next?: string }.`,
    );
  });

  it.each([
    [{ maxPages: 0 }, 'pull.maxPages must be a positive integer, got 0'],
    [{ since: 7 }, 'pull.since must be a query parameter name or a function, got 7'],
    [{ page: 'array' }, 'pull.page must be a page reader function (feedPage, arrayPage, dataPage(...)), got "array"'],
    [{ snapshot: 'yes' }, 'pull.snapshot must be true, false or { idOf?, confirmDeletions? }, got "yes"'],
    [{ snapshot: null }, 'pull.snapshot must be true, false or { idOf?, confirmDeletions? }, got null'],
    [{ checkpointOf: 'updatedAt' }, 'pull.checkpointOf must be a function, got "updatedAt"'],
  ])('%j fails each pull with a clear message', async (options, message) => {
    await expect(pull(options as unknown as HttpPullOptions)).rejects.toThrow(`[rxsync] httpTransport: ${message}.`);
    expect(asked).toHaveLength(0);
  });
});

describe('pull adapters: validators', () => {
  it('an ETag goes back as If-None-Match; 304 is an empty page with checkpoint and state unchanged', async () => {
    reply = () => HttpResponse.json([{ id: 1 }], { headers: { ETag: '"v1"' } });
    const first = await pull({ page: arrayPage }, { since: 'c1' });
    expect(first.state).toEqual({ v: 1, url: `${BASE}/todos?since=c1`, etag: '"v1"' });
    reply = () => new HttpResponse(null, { status: 304 });
    const again = await pull({ page: arrayPage }, { since: 'c1', state: first.state });
    expect(again).toEqual({ items: [], checkpoint: 'c1', hasMore: false, state: first.state });
    expect(asked.map((a) => a.ifNoneMatch)).toEqual([null, '"v1"']);
    // Else fetch itself adds `no-cache`, and Express-style servers never answer 304.
    expect(asked[1].cacheControl).toBe('max-age=0');
  });

  it('Last-Modified goes back as If-Modified-Since; off with conditional: false', async () => {
    const lastModified = 'Wed, 01 Jan 2031 00:00:00 GMT';
    reply = () => HttpResponse.json([{ id: 1 }], { headers: { 'Last-Modified': lastModified } });
    const first = await pull({ page: arrayPage });
    await pull({ page: arrayPage }, { state: first.state });
    await pull({ page: arrayPage, conditional: false }, { state: first.state });
    expect(asked.map((a) => a.ifModifiedSince)).toEqual([null, lastModified, null]);
  });

  it('a changed listing (200) to a request with a validator is read as usual, with its new ETag', async () => {
    reply = () => HttpResponse.json([{ id: 2 }], { headers: { ETag: '"v2"' } });
    const state = { v: 1, url: `${BASE}/todos`, etag: '"v1"' };
    expect(await pull({ page: arrayPage }, { state })).toEqual({ items: [{ id: 2 }], checkpoint: undefined, hasMore: false, state: { ...state, etag: '"v2"' } });
    expect(asked[0].ifNoneMatch).toBe('"v1"');
  });

  it('dataPage takes a number as the next cursor', async () => {
    reply = (url) => HttpResponse.json(url.searchParams.get('cursor') === '2' ? { data: [{ id: 'b' }] } : { data: [{ id: 'a' }], next: 2 });
    expect((await pull({ page: dataPage({ cursorParam: 'cursor' }) })).items).toEqual([{ id: 'a' }, { id: 'b' }]);
  });

  it('a 304 to a request that sent no validator is an error, not "nothing changed"', async () => {
    reply = () => new HttpResponse(null, { status: 304 });
    await expect(pull({ page: arrayPage })).rejects.toThrow(/answered 304/);
  });

  it('validators of a listing of several pages are not kept: page 1 unchanged says nothing of page 2', async () => {
    reply = pagedArray([[{ id: 1 }], [{ id: 2 }]], () => ({ ETag: '"p"' }));
    expect((await pull({ page: arrayPage, snapshot: true })).state).toEqual({ v: 1, known: [1, 2] });
  });
});

describe('pull adapters: snapshot mode', () => {
  it('hands on every listed record and a tombstone for each id that vanished; sends no checkpoint', async () => {
    reply = pagedArray([[{ id: 1 }, { id: '2' }], [{ id: 3 }]]);
    const first = await pull({ page: arrayPage, snapshot: true });
    expect(first).toEqual({ items: [{ id: 1 }, { id: '2' }, { id: 3 }], state: { v: 1, known: [1, '2', 3] } });
    reply = () => HttpResponse.json([{ id: 3, title: 'changed' }]);
    const second = await pull({ page: arrayPage, snapshot: true }, { since: 'ignored', state: first.state });
    expect(second.items).toEqual([{ id: 3, title: 'changed' }, { id: 1, deleted: true }, { id: '2', deleted: true }]);
    expect(second.state).toEqual({ v: 1, known: [3] });
    expect(asked.map((a) => a.url)).toEqual(['/todos', '/todos?page=2', '/todos']);
  });

  it('ETag: an unchanged list is not downloaded again and synthesizes nothing', async () => {
    reply = () => HttpResponse.json([{ id: 1 }], { headers: { ETag: 'W/"a"' } });
    const first = await pull({ page: arrayPage, snapshot: true });
    reply = (url) => (asked.at(-1)?.ifNoneMatch === 'W/"a"' ? new HttpResponse(null, { status: 304 }) : HttpResponse.json([], { headers: { ETag: '"b"' } }));
    const unchanged = await pull({ page: arrayPage, snapshot: true }, { state: first.state });
    expect(unchanged).toMatchObject({ items: [], state: first.state });
    const emptied = await pull({ page: arrayPage, snapshot: true }, { state: { v: 1, known: [1] } });
    expect(emptied).toEqual({ items: [{ id: 1, deleted: true }], state: { v: 1, url: `${BASE}/todos`, etag: '"b"', known: [] } });
  });

  it('records without an id are handed on untracked; idOf picks another key; a state it cannot read starts afresh', async () => {
    reply = () => HttpResponse.json([{ title: 'no id' }, { uuid: 'u1' }]);
    const page = await pull({ page: arrayPage, snapshot: { idOf: (item) => (item as { uuid?: string }).uuid } }, { state: { v: 1, known: 'garbage' } });
    expect(page).toEqual({ items: [{ title: 'no id' }, { uuid: 'u1' }], state: { v: 1, known: ['u1'] } });
  });

  it('confirmDeletions: a record that only shifted pages while the list was read is not reported deleted', async () => {
    let records = [{ id: '1' }, { id: '2' }, { id: '3' }, { id: '4' }];
    reply = (url) => {
      const single = /^\/todos\/(.+)$/.exec(url.pathname);
      if (single) {
        const found = records.find((r) => r.id === decodeURIComponent(single[1]));
        if (single[1] === 'broken') return HttpResponse.json({ error: 'down' }, { status: 500 });
        return found ? HttpResponse.json(found) : HttpResponse.json({ error: 'gone' }, { status: 404 });
      }
      const page = Number(url.searchParams.get('page') ?? '1');
      // Record 1 is deleted between page 1 and page 2: offset paging shifts 3 onto page 1, unseen.
      if (page === 2) records = records.filter((r) => r.id !== '1');
      const link: Record<string, string> = page === 1 ? { Link: '</todos?page=2>; rel="next"' } : {};
      return HttpResponse.json(records.slice((page - 1) * 2, page * 2), { headers: link });
    };
    const state = { v: 1, known: ['1', '2', '3', '4', '9'] };
    const naive = await pull({ page: arrayPage, snapshot: true }, { state });
    expect(naive.items.filter((i) => (i as { deleted?: boolean }).deleted)).toEqual([{ id: '3', deleted: true }, { id: '9', deleted: true }]);

    records = [{ id: '1' }, { id: '2' }, { id: '3' }, { id: '4' }];
    asked.length = 0;
    const confirmed = await pull({ page: arrayPage, snapshot: { confirmDeletions: true } }, { state });
    expect(confirmed.items).toEqual([{ id: '1' }, { id: '2' }, { id: '4' }, { id: '3' }, { id: '9', deleted: true }]);
    expect(confirmed.state).toEqual({ v: 1, known: ['1', '2', '4', '3'] });
    expect(asked.map((a) => a.url).sort()).toEqual(['/todos', '/todos/3', '/todos/9', '/todos?page=2']);

    await expect(pull({ page: arrayPage, snapshot: { confirmDeletions: true } }, { state: { v: 1, known: ['broken'] } })).rejects.toThrow(
      '[rxsync] Pulling "todos" failed: GET http://list.test/todos/broken answered 500: {"error":"down"}.',
    );
  });

  it('works on { data, next } pages too', async () => {
    reply = (url) => (url.searchParams.has('p') ? HttpResponse.json({ data: [{ id: 'b' }] }) : HttpResponse.json({ data: [{ id: 'a' }], next: `${BASE}/todos?p=2` }));
    const page = await pull({ page: dataPage(), snapshot: true }, { state: { v: 1, known: ['a', 'b', 'c'] } });
    expect(page.items).toEqual([{ id: 'a' }, { id: 'b' }, { id: 'c', deleted: true }]);
  });
});

describe('linkNext', () => {
  it.each([
    ['<https://a.test/x?page=2>; rel="next"', 'https://a.test/x?page=2'],
    ['<https://a.test/1>; rel="prev", <https://a.test/3>; rel=next', 'https://a.test/3'],
    ['<https://a.test/3>; title="a, b"; rel="last next"', 'https://a.test/3'],
    ['<https://a.test/1>; rel="prev"', undefined],
    ['', undefined],
    ['<https://a.test/2>;rel=next', 'https://a.test/2'],
    ['<https://a.test/2> ; rel = "next"', 'https://a.test/2'],
    ['<https://a.test/0>; type="text/html", <https://a.test/2>; rel="next"', 'https://a.test/2'],
  ])('%s', (header, expected) => {
    expect(linkNext(header)).toBe(expected);
  });
});

describe('pull adapters: answers the readers cannot use', () => {
  it.each([
    ['feedPage, a body of null', {}, null, 'with a body that is not { items: [...] } (got null)'],
    ['dataPage, a body of null', { page: dataPage() }, null, 'with a body that has no "data" array (got null)'],
    ['dataPage, a next that is an object', { page: dataPage() }, { data: [], next: {} }, '"next" must be a string, got {}.'],
    ['feedPage, a checkpoint that is an object', {}, { items: [], checkpoint: {} }, 'the checkpoint must be a string, got {}.'],
  ])('%s fails the pull, saying what is wrong', async (_name, options, body, message) => {
    reply = () => HttpResponse.json(body as never);
    const error = await pull(options as HttpPullOptions).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SyncHttpError);
    expect((error as Error).message).toContain(message);
  });

  it('a checkpoint of null is no checkpoint; a dataPage next that is empty is the last page', async () => {
    reply = () => HttpResponse.json({ items: [{ id: 1 }], checkpoint: null });
    expect(await pull({})).toEqual({ items: [{ id: 1 }], checkpoint: undefined, hasMore: false, state: undefined });
    reply = () => HttpResponse.json({ data: [{ id: 1 }], next: '' });
    expect((await pull({ page: dataPage() })).items).toEqual([{ id: 1 }]);
    expect(asked).toHaveLength(2);
  });

  it.each([300, 503])('an answer %i with a page-shaped body fails the pull', async (status) => {
    reply = () => HttpResponse.json({ items: [{ id: 1 }] }, { status });
    await expect(pull({})).rejects.toThrow(`[rxsync] Pulling "todos" failed: GET http://list.test/todos answered ${status}: {"items":[{"id":1}]}.`);
  });
});

describe('pull adapters: the request', () => {
  it('asks for JSON; only a request with validators carries Cache-Control', async () => {
    reply = () => HttpResponse.json({ items: [] });
    await pull({});
    expect(asked.map((a) => [a.accept, a.cacheControl])).toEqual([['application/json', null]]);
  });

  it('validators stored for another URL (another checkpoint) are not sent', async () => {
    reply = () => HttpResponse.json({ items: [] });
    await pull({}, { since: 'c2', state: { v: 1, url: `${BASE}/todos?since=c1`, etag: '"v1"' } });
    expect(asked[0].ifNoneMatch).toBeNull();
  });

  it.each([
    ['of another version', { v: 2, url: `${BASE}/todos`, etag: '"v1"' }],
    ['with an ETag that is not a string', { v: 1, url: `${BASE}/todos`, etag: 5 }],
  ])('a stored state %s is not trusted: no validator is sent', async (_name, state) => {
    reply = () => HttpResponse.json({ items: [] });
    await pull({}, { state });
    expect(asked[0]).toMatchObject({ ifNoneMatch: null, ifModifiedSince: null });
  });

  it('a stored state of null starts afresh', async () => {
    reply = () => HttpResponse.json({ items: [{ id: 1 }] });
    expect((await pull({}, { state: null })).items).toEqual([{ id: 1 }]);
  });

  it.each([
    ['a URL that is not a string', { v: 1, url: 5, known: ['gone'] }],
    ['a Last-Modified that is not a string', { v: 1, lastModified: 5, known: ['gone'] }],
    ['an id that is neither string nor number', { v: 1, known: ['gone', {}] }],
  ])('snapshot mode: a stored state with %s starts afresh (no tombstone from it)', async (_name, state) => {
    reply = () => HttpResponse.json([{ id: 1 }]);
    expect((await pull({ page: arrayPage, snapshot: true }, { state })).items).toEqual([{ id: 1 }]);
  });

  it('in a browser, a relative next link is read against the page that named it, under the page origin', async () => {
    vi.stubGlobal('location', new URL(`${BASE}/app/`));
    try {
      reply = pagedArray([[{ id: 1 }], [{ id: 2 }]]);
      const transport = httpTransport({ baseUrl: '/', pull: { page: arrayPage } });
      expect((await firstValueFrom(transport.pull({ entity: 'todos', endpoint: '/todos' }))).items).toEqual([{ id: 1 }, { id: 2 }]);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});

describe('pull adapters: snapshot mode, deletions confirmed one by one', () => {
  const confirming = (single: (id: string) => Response) => (url: URL) => {
    const one = /^\/todos\/(.+)$/.exec(url.pathname);
    return one ? single(decodeURIComponent(one[1])) : HttpResponse.json([{ id: 'a' }]);
  };

  it('a record answered 410 is gone; one that is still there is tracked again and its later absence reported', async () => {
    reply = confirming((id) => (id === 'gone' ? HttpResponse.json({}, { status: 410 }) : HttpResponse.json({ id })));
    const page = await pull({ page: arrayPage, snapshot: { confirmDeletions: true } }, { state: { v: 1, known: ['a', 'gone', 'moved'] } });
    expect(page).toEqual({ items: [{ id: 'a' }, { id: 'moved' }, { id: 'gone', deleted: true }], state: { v: 1, known: ['a', 'moved'] } });
    reply = () => HttpResponse.json([{ id: 'a' }]);
    expect((await pull({ page: arrayPage, snapshot: true }, { state: page.state })).items).toEqual([{ id: 'a' }, { id: 'moved', deleted: true }]);
  });

  it('an endpoint written with a trailing slash checks /todos/{id}, not /todos//{id}', async () => {
    reply = confirming((id) => (id === 'gone' ? HttpResponse.json({}, { status: 404 }) : HttpResponse.json({ id })));
    const transport = httpTransport({ baseUrl: BASE, pull: { page: arrayPage, snapshot: { confirmDeletions: true } } });
    const page = await firstValueFrom(transport.pull({ entity: 'todos', endpoint: '/todos/', state: { v: 1, known: ['a', 'gone'] } }));
    expect(page.items).toEqual([{ id: 'a' }, { id: 'gone', deleted: true }]);
    expect(asked.map((a) => a.url)).toEqual(['/todos/', '/todos/gone']);
  });

  it("the listing and each check are sent as GET, which a browser's fetch needs spelled out (msw alone reads an empty method as GET)", async () => {
    reply = confirming(() => HttpResponse.json({}, { status: 410 }));
    const sent = vi.spyOn(globalThis, 'fetch');
    try {
      await pull({ page: arrayPage, snapshot: { confirmDeletions: true } }, { state: { v: 1, known: ['a', 'x'] } });
      expect(sent.mock.calls.map(([, init]) => init?.method)).toEqual(['GET', 'GET']);
    } finally {
      sent.mockRestore();
    }
  });

  it.each([
    ['a 300', () => HttpResponse.json({ id: 'x' }, { status: 300 })],
    ['a 200 with text', () => HttpResponse.text('ok')],
    ['a 200 with null', () => HttpResponse.json(null)],
  ])('a check answered with %s fails the pull instead of guessing', async (_name, single) => {
    reply = confirming(single);
    await expect(pull({ page: arrayPage, snapshot: { confirmDeletions: true } }, { state: { v: 1, known: ['a', 'x'] } })).rejects.toThrow(/GET http:\/\/list\.test\/todos\/x answered/);
  });
});
