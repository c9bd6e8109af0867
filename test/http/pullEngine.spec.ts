import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { of } from 'rxjs';
import { arrayPage, createSyncEngine, dataPage, httpTransport, type HttpPullOptions, type SyncStorage } from '../../src/index.js';
import { freshStorage } from '../support/engineHarness.js';
import { localCopy } from './localCopy.js';

const BASE = 'http://plain.test';
/** The list endpoint's records, in order; each change bumps `revision` (the ETag). */
let records: { id: string; title: string }[] = [];
let revision = 1;
const asked: string[] = [];
let answered304 = 0;

/** A typical REST list: `GET /todos` is a plain array, 2 per page with `?page=`, a Link to the next one, an ETag. */
const arrayList = http.get(`${BASE}/todos`, ({ request }) => {
  const url = new URL(request.url);
  asked.push(`${url.pathname}${url.search}`);
  const etag = `"r${revision}"`;
  if (request.headers.get('If-None-Match') === etag) {
    answered304++;
    return new HttpResponse(null, { status: 304, headers: { ETag: etag } });
  }
  const page = Number(url.searchParams.get('page') ?? '1');
  const slice = records.slice((page - 1) * 2, page * 2);
  const more = page * 2 < records.length;
  return HttpResponse.json(slice, { headers: { ETag: etag, ...(more ? { Link: `<${BASE}/todos?page=${page + 1}>; rel="next"` } : {}) } });
});
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => {
  server.resetHandlers();
  records = [];
  revision = 1;
  asked.length = 0;
  answered304 = 0;
});
afterAll(() => server.close());

function engineWith(pull: HttpPullOptions, storage: SyncStorage = freshStorage(), local = localCopy()) {
  const engine = createSyncEngine<'todos'>({
    entities: { todos: { endpoint: '/todos' } },
    transport: httpTransport({ baseUrl: BASE, pull }),
    storage,
    online$: of(true),
    // These specs count the pulls they make themselves.
    autoPull: false,
    onPull: (entity, items) => local.onPull(entity, items),
  });
  return { engine, local, storage };
}

const change = (next: { id: string; title: string }[]) => {
  records = next;
  revision++;
};

describe('engine end to end with pull adapters', () => {
  it('snapshot mode: the local copy follows creates, changes and deletions, across a restart, and a 304 changes nothing', async () => {
    server.use(arrayList);
    change([{ id: '1', title: 'a' }, { id: '2', title: 'b' }, { id: '3', title: 'c' }]);
    const first = engineWith({ page: arrayPage, snapshot: true });
    expect(await first.engine.pull()).toMatchObject({ success: true, pulled: 3 });
    expect(first.local.sorted()).toEqual(records);
    expect(await first.storage.getItem('rxsync:checkpoint:todos')).toMatchObject({ v: 1, state: { known: ['1', '2', '3'] } });
    first.engine.destroy();

    // A new engine on the same storage (the app's local copy is its own, kept too): the ids seen before the restart are still known.
    change([{ id: '1', title: 'a' }, { id: '3', title: 'c2' }, { id: '4', title: 'd' }]);
    const second = engineWith({ page: arrayPage, snapshot: true }, first.storage, first.local);
    expect(await second.engine.pull()).toMatchObject({ success: true, pulled: 4 });
    expect(second.local.sorted()).toEqual(records);
    expect(await second.engine.pull()).toMatchObject({ success: true, pulled: 3 }); // two pages: no validators, all again
    expect(answered304).toBe(0);

    change([{ id: '3', title: 'c2' }]);
    await second.engine.pull();
    expect(second.local.sorted()).toEqual(records);
    asked.length = 0;
    expect(await second.engine.pull()).toMatchObject({ success: true, pulled: 0 });
    expect(answered304).toBe(1);
    expect(asked).toEqual(['/todos']);
    expect(second.local.sorted()).toEqual(records);
    second.engine.destroy();
  });

  it('a plain array with a since parameter: the engine sends back the checkpoint derived from the items', async () => {
    server.use(
      http.get(`${BASE}/todos`, ({ request }) => {
        const after = new URL(request.url).searchParams.get('updated_after');
        asked.push(after ?? '');
        const all = [{ id: '1', updatedAt: '2030-01-01' }, { id: '2', updatedAt: '2030-01-02' }];
        return HttpResponse.json(all.filter((r) => after === null || r.updatedAt > after));
      }),
    );
    const newest = (items: readonly unknown[]) => (items as { updatedAt: string }[]).map((r) => r.updatedAt).sort().at(-1);
    const { engine, local } = engineWith({ page: arrayPage, since: 'updated_after', checkpointOf: newest });
    expect(await engine.pull()).toMatchObject({ pulled: 2 });
    expect(await engine.pull()).toMatchObject({ pulled: 0 });
    expect(await engine.pull()).toMatchObject({ pulled: 0 });
    expect(asked).toEqual(['', '2030-01-02', '2030-01-02']);
    expect(local.records.size).toBe(2);
    engine.destroy();
  });

  it('{ data, next } cursor pages: every page reaches onPull once', async () => {
    server.use(
      http.get(`${BASE}/todos`, ({ request }) => {
        const cursor = new URL(request.url).searchParams.get('cursor');
        return cursor === 'p2' ? HttpResponse.json({ data: [{ id: 'b' }], next: null }) : HttpResponse.json({ data: [{ id: 'a' }], next: 'p2' });
      }),
    );
    const { engine, local } = engineWith({ page: dataPage({ cursorParam: 'cursor' }) });
    expect(await engine.pull()).toMatchObject({ success: true, pulled: 2 });
    expect(local.sorted()).toEqual([{ id: 'a' }, { id: 'b' }]);
    engine.destroy();
  });

  it('a checkpoint stored as a plain string (as every earlier version wrote it) still loads; a feed keeps storing a plain string', async () => {
    server.use(
      http.get(`${BASE}/todos`, ({ request }) => {
        asked.push(new URL(request.url).searchParams.get('since') ?? '');
        return HttpResponse.json({ items: [{ id: 'x' }], checkpoint: 'c6' });
      }),
    );
    const storage = freshStorage();
    await storage.setItem('rxsync:checkpoint:todos', 'c5');
    const { engine } = engineWith({}, storage);
    await engine.pull();
    expect(asked).toEqual(['c5']);
    expect(await storage.getItem('rxsync:checkpoint:todos')).toBe('c6');
    engine.destroy();
  });

  it('a stored position it cannot read starts from the beginning instead of failing', async () => {
    server.use(arrayList);
    change([{ id: '1', title: 'a' }]);
    const storage = freshStorage();
    await storage.setItem('rxsync:checkpoint:todos', { v: 99, junk: true });
    const { engine, local } = engineWith({ page: arrayPage, snapshot: true }, storage);
    expect(await engine.pull()).toMatchObject({ success: true, pulled: 1 });
    expect(local.sorted()).toEqual(records);
    engine.destroy();
  });
});
