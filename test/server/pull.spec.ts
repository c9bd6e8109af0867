import { describe, expect, it } from 'vitest';
import type { SyncServer } from '../../server/index.js';
import { call, pullAll, storeKind, useServer } from './helpers.js';

async function seed(server: SyncServer, entity: string, count: number) {
  const batch = Array.from({ length: count }, (_, i) => ({ method: 'POST', path: `/${entity}`, body: { id: `r${String(i).padStart(4, '0')}`, i } }));
  const res = await call(server, 'POST', '/_batch', { body: batch });
  expect(res.body.results.every((r: any) => r.status === 201)).toBe(true);
}

/** Applies pulled pages in order into a map, as a client would. */
function applyPages(pages: { items: any[] }[], into = new Map<string, any>()) {
  for (const page of pages) for (const item of page.items) into.set(item.id, item);
  return into;
}

async function serverState(server: SyncServer, entity: string) {
  return new Map((await server.db.records(entity, { includeDeleted: true })).map((r) => [r.id, r]));
}

describe('reference server: pull (GET /{entity}?since=)', () => {
  const fixture = useServer();

  it('without since returns everything from the beginning, oldest change first', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'b' } });
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
    await call(fixture.server, 'PATCH', '/todos/b', { body: { n: 1 } });
    const res = await call(fixture.server, 'GET', '/todos');
    expect(res.status).toBe(200);
    expect(res.body.items.map((r: any) => [r.id, r.version])).toEqual([['a', 1], ['b', 2]]);
    expect(res.body.hasMore).toBe(false);
    expect(typeof res.body.checkpoint).toBe('string');
    // SQLite numbers changes 1, 2, 3…; PostgreSQL's checkpoints are transaction ids.
    if (storeKind() === 'sqlite') expect(res.body.checkpoint).toBe('3');
  });

  it('pages with hasMore across several pages, including tombstones', async () => {
    await seed(fixture.server, 'todos', 25);
    await call(fixture.server, 'DELETE', '/todos/r0003');
    await call(fixture.server, 'DELETE', '/todos/r0020');
    const pages = await pullAll(fixture.server, 'todos', undefined, 10);
    expect(pages.map((p) => [p.items.length, p.hasMore])).toEqual([[10, true], [10, true], [5, false]]);
    const items = pages.flatMap((p) => p.items);
    expect(items).toHaveLength(25);
    expect(new Set(items.map((r) => r.id)).size).toBe(25);
    expect(items.slice(-2)).toEqual([
      { id: 'r0003', deleted: true, version: 2, updatedAt: expect.any(String) },
      { id: 'r0020', deleted: true, version: 2, updatedAt: expect.any(String) },
    ]);
    const checkpoints = pages.map((p) => Number(p.checkpoint));
    expect(checkpoints).toEqual([...checkpoints].sort((a, b) => a - b));
    expect(new Set(checkpoints).size).toBe(3);
    expect(applyPages(pages)).toEqual(await serverState(fixture.server, 'todos'));
  });

  it('from a checkpoint returns only what changed after it', async () => {
    await seed(fixture.server, 'todos', 3);
    const first = await call(fixture.server, 'GET', '/todos');
    await call(fixture.server, 'PATCH', '/todos/r0001', { body: { n: 1 } });
    const next = await call(fixture.server, 'GET', `/todos?since=${first.body.checkpoint}`);
    expect(next.body.items.map((r: any) => r.id)).toEqual(['r0001']);
    expect(Number(next.body.checkpoint)).toBeGreaterThan(Number(first.body.checkpoint));
  });

  it('an empty page keeps the given checkpoint; without since it answers the current position', async () => {
    await seed(fixture.server, 'todos', 3);
    await call(fixture.server, 'POST', '/notes', { body: { id: 'n' } });
    const end = (await call(fixture.server, 'GET', '/todos')).body.checkpoint;
    expect((await call(fixture.server, 'GET', `/todos?since=${end}`)).body).toEqual({ items: [], checkpoint: end, hasMore: false });
    const empty = (await call(fixture.server, 'GET', '/empty')).body;
    expect(empty).toEqual({ items: [], checkpoint: expect.any(String), hasMore: false });
    if (storeKind() === 'sqlite') expect(empty.checkpoint).toBe('4');
    expect((await call(fixture.server, 'GET', '/todos?since=')).body.items).toHaveLength(3);
    // The current position sees what comes next and nothing before.
    await call(fixture.server, 'POST', '/empty', { body: { id: 'e' } });
    expect((await call(fixture.server, 'GET', `/empty?since=${empty.checkpoint}`)).body.items.map((r: any) => r.id)).toEqual(['e']);
  });

  it('only returns the asked entity', async () => {
    await seed(fixture.server, 'todos', 2);
    await seed(fixture.server, 'notes', 3);
    expect((await call(fixture.server, 'GET', '/todos')).body.items).toHaveLength(2);
    expect((await call(fixture.server, 'GET', '/notes?since=2')).body.items).toHaveLength(3);
  });

  it('uses pages of 100 by default and caps limit at 1000', async () => {
    await seed(fixture.server, 'todos', 1000);
    await call(fixture.server, 'POST', '/todos', { body: { id: 'last' } });
    const byDefault = await call(fixture.server, 'GET', '/todos');
    expect(byDefault.body.items).toHaveLength(100);
    expect(byDefault.body.hasMore).toBe(true);
    const capped = await call(fixture.server, 'GET', '/todos?limit=5000');
    expect(capped.body.items).toHaveLength(1000);
    expect(capped.body.hasMore).toBe(true);
    const rest = await call(fixture.server, 'GET', `/todos?since=${capped.body.checkpoint}&limit=5000`);
    expect(rest.body).toMatchObject({ items: [{ id: 'last' }], hasMore: false });
  });

  it('a page exactly as long as the rest says hasMore: false', async () => {
    await seed(fixture.server, 'todos', 4);
    expect((await call(fixture.server, 'GET', '/todos?limit=4')).body.hasMore).toBe(false);
    expect((await call(fixture.server, 'GET', '/todos?limit=3')).body.hasMore).toBe(true);
  });

  it.each(['abc', '-1', '1.5', '0x10', '1e3'])('answers 400 with a JSON error for since=%s', async (since) => {
    const res = await call(fixture.server, 'GET', `/todos?since=${encodeURIComponent(since)}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/since/);
  });

  it.each(['0', '-3', 'ten'])('answers 400 for limit=%s', async (limit) => {
    const res = await call(fixture.server, 'GET', `/todos?limit=${limit}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/limit/);
  });

  it('skips nothing when writes interleave with paging', async () => {
    await seed(fixture.server, 'todos', 30);
    const map = new Map<string, any>();
    const checkpoints: number[] = [];
    let since: string | undefined;
    let round = 0;
    for (;;) {
      const query = since === undefined ? '?limit=7' : `?limit=7&since=${since}`;
      const page = (await call(fixture.server, 'GET', `/todos${query}`)).body;
      applyPages([page], map);
      checkpoints.push(Number(page.checkpoint));
      since = page.checkpoint;
      if (!page.hasMore) break;
      round++;
      // between pages: change a record already seen, one not yet seen, delete one, create one
      await call(fixture.server, 'PATCH', '/todos/r0000', { body: { round } });
      await call(fixture.server, 'PATCH', `/todos/r00${20 + round}`, { body: { round } });
      await call(fixture.server, 'DELETE', `/todos/r000${round}`);
      await call(fixture.server, 'POST', '/todos', { body: { id: `new${round}` } });
    }
    expect(round).toBeGreaterThan(3);
    for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]).toBeGreaterThan(checkpoints[i - 1]);
    expect(map).toEqual(await serverState(fixture.server, 'todos'));
  });

  it('skips nothing when concurrent writes race a paging loop', async () => {
    await seed(fixture.server, 'todos', 40);
    const writes = Promise.all(
      Array.from({ length: 120 }, (_, i) => {
        const id = `r${String(i % 40).padStart(4, '0')}`;
        if (i % 3 === 0) return call(fixture.server, 'POST', '/todos', { body: { id: `c${i}` } });
        if (i === 61) return call(fixture.server, 'DELETE', `/todos/${id}`);
        return call(fixture.server, 'PATCH', `/todos/${id}`, { body: { i } }).then((r) => expect([200, 404]).toContain(r.status));
      }),
    );
    const map = new Map<string, any>();
    const checkpoints: number[] = [];
    let since: string | undefined;
    const paging = (async () => {
      for (let i = 0; i < 30; i++) {
        const page = (await call(fixture.server, 'GET', `/todos?limit=5${since ? `&since=${since}` : ''}`)).body;
        applyPages([page], map);
        checkpoints.push(Number(page.checkpoint));
        since = page.checkpoint;
      }
    })();
    await Promise.all([writes, paging]);
    applyPages(await pullAll(fixture.server, 'todos', since, 5), map);
    for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]).toBeGreaterThanOrEqual(checkpoints[i - 1]);
    expect(map).toEqual(await serverState(fixture.server, 'todos'));
  });

  it('never serves a change of a transaction that is still open and then rolls back', async () => {
    const db = fixture.server.db;
    const change = (id: string) => ({ entity: 'todos', id, data: {}, basedOn: null, updatedAt: new Date().toISOString(), deleted: false, method: 'PUT', idempotencyKey: null });
    let fail!: () => void;
    let written!: () => void;
    const isWritten = new Promise<void>((resolve) => (written = resolve));
    const doomed = db.write(async (tx) => {
      await tx.writeRecord(change('ghost'));
      written();
      await new Promise<void>((resolve) => (fail = resolve));
      throw new Error('rolled back');
    });
    await isWritten;
    const during = db.changesSince('todos', undefined, 100, () => true);
    fail();
    await expect(doomed).rejects.toThrow('rolled back');
    const page = await during;
    expect(page.records).toEqual([]);
    await db.write((tx) => tx.writeRecord(change('real')));
    expect((await db.changesSince('todos', page.checkpoint, 100, () => true)).records.map((r) => r.id)).toEqual(['real']);
  });
});
