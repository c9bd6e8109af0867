import { BehaviorSubject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createSyncEngine, memoryStorage } from '../../src/index.js';
import type { SyncEngineOptions } from '../../src/index.js';
import { overHttp, SimulatedServer } from './simulatedServer.js';

/** Shrunk failures of the model-based suite (model.spec.ts), kept as plain scenarios. */
describe('reliability regressions', () => {
  const setup = () => {
    const server = new SimulatedServer();
    const online$ = new BehaviorSubject(false);
    const options: SyncEngineOptions<'todos'> = {
      entities: { todos: { endpoint: '/todos' } },
      transport: overHttp(server),
      storage: memoryStorage(),
      online$,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 10,
      retryJitter: 0,
    };
    return { server, online$, options };
  };

  // Bug: destroy() lets the writes it already accepted finish landing in storage, but an
  // engine started on the same storage right away loaded before they had landed. It never
  // saw them, and its own log segment reused their sequence number and overwrote them:
  // write() had resolved ("durable"), yet the write never reached the server.
  it('destroy() and a new engine at once on the same storage: writes still being stored are delivered by the new one', async () => {
    const again = setup();
    const one = createSyncEngine(again.options);
    await one.ready;
    const a = one.write({ entity: 'todos', operation: 'create', data: { id: 'a', title: 'milk' } });
    // merged into the create by a second storage batch, still being written when destroy() comes
    const b = one.write({ entity: 'todos', operation: 'update', data: { id: 'a', done: true } });
    one.destroy();
    const two = createSyncEngine(again.options);
    await Promise.all([a, b]);
    await two.write({ entity: 'todos', operation: 'create', data: { id: 'b', title: 'eggs' } }); // the new engine writes too
    again.online$.next(true);
    await two.ready;
    await two.flush();
    expect(again.server.record('a')).toEqual({ id: 'a', title: 'milk', done: true });
    expect(again.server.record('b')).toEqual({ id: 'b', title: 'eggs' });
    two.destroy();
  });

  // Same bug, second shape (shrunk: write, write, restart, restart): an engine destroyed before
  // it had even loaded drained at once, so the third engine stopped waiting for the first.
  it('two restarts in a row: the third engine still waits for the first one\'s last writes', async () => {
    const { server, online$, options } = setup();
    const first = createSyncEngine(options);
    await first.ready;
    const created = first.write({ entity: 'todos', operation: 'create', data: { id: 'a', title: 'milk' } });
    const updated = first.write({ entity: 'todos', operation: 'update', data: { id: 'a', done: true } });
    first.destroy();
    createSyncEngine(options).destroy();
    const third = createSyncEngine(options);
    await Promise.all([created, updated]);
    await third.write({ entity: 'todos', operation: 'create', data: { id: 'b', title: 'eggs' } });
    online$.next(true);
    await third.ready;
    await third.flush();
    expect(server.record('a')).toEqual({ id: 'a', title: 'milk', done: true });
    expect(server.record('b')).toEqual({ id: 'b', title: 'eggs' });
    third.destroy();
  });
});
