import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BehaviorSubject } from 'rxjs';
import { arrayPage, createSyncEngine, httpTransport, type SyncEngine } from '../../src/index.js';
import { freshStorage } from '../support/engineHarness.js';
import { localCopy } from '../http/localCopy.js';
import { startJsonServer, type JsonServer } from './startJsonServer.js';

let server: JsonServer;
beforeAll(async () => {
  server = await startJsonServer({ todos: [{ id: 'seed', title: 'from before', done: false }] });
});
afterAll(() => server?.close());

/** json-server's records as its GET answers them (its db.json file is written after it answers). */
async function listed(): Promise<unknown[]> {
  return (await fetch(`${server.url}/todos`)).json() as Promise<unknown[]>;
}
const byId = (records: unknown[]) => [...records].sort((a, b) => String((a as { id: string }).id).localeCompare(String((b as { id: string }).id)));

describe('json-server 0.17 (third-party REST server) driven by rxsync with the stock httpTransport', () => {
  it('push creates, updates and deletes; a snapshot pull makes the local copy equal the server, deletions included', async () => {
    const local = localCopy();
    const network = new BehaviorSubject(false);
    const engine: SyncEngine<'todos'> = createSyncEngine<'todos'>({
      entities: { todos: { endpoint: '/todos' } },
      // The spec pulls when it wants to compare: no pulls of the engine's own in between.
      autoPull: false,
      transport: httpTransport({
        baseUrl: server.url,
        // json-server pages with _page/_limit and a Link header; two per page makes the pull follow several.
        pull: { page: arrayPage, snapshot: true, since: (url) => `${url}?_page=1&_limit=2` },
      }),
      storage: freshStorage(),
      online$: network,
      onPull: (entity, items) => local.onPull(entity, items),
      retryBaseDelayMs: 1,
      retryJitter: 0,
    });

    // What the app means, written while offline.
    await engine.push('todos', { id: 'a', title: 'milk', done: false });
    await engine.push('todos', { id: 'b', title: 'eggs', done: false });
    await engine.push('todos', { id: 'c', title: 'bread', done: false });
    await engine.push('todos', { id: 'd', title: 'gone before it was sent', done: false });
    await engine.push('todos', { id: 'b', done: true }, 'update');
    await engine.delete('todos', 'd');
    await engine.delete('todos', 'seed');
    network.next(true);
    const flushed = await engine.flush();
    expect(flushed).toMatchObject({ success: true, errors: 0 });
    await engine.delete('todos', 'c');
    await engine.push('todos', { id: 'a', title: 'oat milk' }, 'update');
    expect(await engine.flush()).toMatchObject({ success: true, errors: 0 });

    const intent = [
      { id: 'a', title: 'oat milk', done: false },
      { id: 'b', title: 'eggs', done: true },
    ];
    expect(byId(await listed())).toEqual(intent);
    expect(engine.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });

    // Someone else changes the server: a new record, a change, and a delete.
    const other = (method: string, path: string, body?: unknown) =>
      fetch(`${server.url}${path}`, { method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await other('POST', '/todos', { id: 'e', title: 'jam', done: false })).status).toBe(201);
    expect((await other('POST', '/todos', { id: 'f', title: 'tea', done: false })).status).toBe(201);

    expect(await engine.pull()).toMatchObject({ success: true, pulled: 4 });
    expect(byId(local.sorted())).toEqual(byId(await listed()));

    expect((await other('PATCH', '/todos/a', { done: true })).status).toBe(200);
    expect((await other('DELETE', '/todos/b')).status).toBe(200);
    expect((await other('DELETE', '/todos/e')).status).toBe(200);
    await engine.pull();
    expect(byId(local.sorted())).toEqual(byId(await listed()));
    expect(local.records.has('b')).toBe(false);
    expect(byId(local.sorted())).toEqual([
      { id: 'a', title: 'oat milk', done: true },
      { id: 'f', title: 'tea', done: false },
    ]);
    engine.destroy();
  });

  it("an unchanged list is answered 304 to the ETag json-server (Express) sends, so a pull hands nothing on", async () => {
    const local = localCopy();
    const engine = createSyncEngine<'todos'>({
      entities: { todos: { endpoint: '/todos' } },
      transport: httpTransport({ baseUrl: server.url, pull: { page: arrayPage, snapshot: true } }),
      storage: freshStorage(),
      autoPull: false,
      onPull: (entity, items) => local.onPull(entity, items),
    });
    const count = (await listed()).length;
    expect(count).toBeGreaterThan(0);
    expect(await engine.pull()).toMatchObject({ success: true, pulled: count });
    expect(await engine.pull()).toMatchObject({ success: true, pulled: 0 });
    expect(byId(local.sorted())).toEqual(byId(await listed()));
    engine.destroy();
  });
});
