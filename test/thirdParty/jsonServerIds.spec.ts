import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BehaviorSubject } from 'rxjs';
import { arrayPage, createSyncEngine, httpTransport } from '../../src/index.js';
import { freshStorage } from '../support/engineHarness.js';
import { localCopy } from '../http/localCopy.js';
import { startJsonServer, type JsonServer } from './startJsonServer.js';

let server: JsonServer;
beforeAll(async () => {
  // An empty collection: json-server numbers the records it creates 1, 2, 3…
  server = await startJsonServer({ todos: [] });
});
afterAll(() => server?.close());

const listed = async (): Promise<{ id: number }[]> => (await fetch(`${server.url}/todos`)).json() as Promise<{ id: number }[]>;
const byId = (records: unknown[]) => [...records].sort((a, b) => Number((a as { id: number }).id) - Number((b as { id: number }).id));

describe('json-server 0.17 assigns the ids (entities.todos.serverIds)', () => {
  it('creates with temporary ids, then updates and deletes queued before they were acked: the server ends as the app meant, and a pull matches it', async () => {
    const local = localCopy();
    const network = new BehaviorSubject(false);
    const engine = createSyncEngine<'todos'>({
      entities: { todos: { endpoint: '/todos', serverIds: true } },
      autoPull: false,
      transport: httpTransport({ baseUrl: server.url, pull: { page: arrayPage, snapshot: true } }),
      storage: freshStorage(),
      online$: network,
      onPull: (entity, items) => local.onPull(entity, items),
      retryBaseDelayMs: 1,
      retryJitter: 0,
    });
    const assigned = new Map<string | number, string | number>();
    engine.events$.subscribe((event) => {
      if (event.type === 'id-assigned') assigned.set(event.tempId, event.id);
    });

    await engine.push('todos', { id: 'tmp-a', title: 'milk', done: false });
    await engine.push('todos', { id: 'tmp-b', title: 'eggs', done: false });
    await engine.push('todos', { id: 'tmp-c', title: 'bread', done: false });
    network.next(true);
    // The three creates are on their way now; what follows waits behind them, record by record.
    expect(engine.getStatus().inFlight).toBe(3);
    const queuedBehind = Promise.all([
      engine.push('todos', { id: 'tmp-a', done: true }, 'update'),
      engine.delete('todos', 'tmp-b'),
      engine.push('todos', { id: 'tmp-c', title: 'rye bread' }, 'update'),
    ]);
    expect(engine.pendingFor('todos', 'tmp-a').map((item) => item.operation)).toEqual(['create', 'update']);
    await queuedBehind;
    expect(await engine.flush()).toMatchObject({ success: true, errors: 0 });
    // A write the app still makes with the temporary id reaches the server's record.
    await engine.push('todos', { id: 'tmp-a', title: 'oat milk' }, 'update');
    expect(await engine.flush()).toMatchObject({ success: true, errors: 0 });

    expect([...assigned.keys()].sort()).toEqual(['tmp-a', 'tmp-b', 'tmp-c']);
    const intent = [
      { id: assigned.get('tmp-a'), title: 'oat milk', done: true },
      { id: assigned.get('tmp-c'), title: 'rye bread', done: false },
    ];
    expect(byId(await listed())).toEqual(byId(intent));
    expect(engine.getStatus()).toMatchObject({ queueLength: 0, failedCount: 0 });

    await engine.pull();
    expect(byId(local.sorted())).toEqual(byId(await listed()));
    engine.destroy();
  });
});
