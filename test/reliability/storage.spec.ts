import 'fake-indexeddb/auto';
import localforage from 'localforage';
import { BehaviorSubject } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createSyncEngine, SyncStorageError } from '../../src/index.js';
import type { SyncStorage } from '../../src/index.js';
import { FaultyStorage, storageDevice } from './faultyStorage.js';
import { overHttp, SimulatedServer, stopServingOverHttp } from './simulatedServer.js';

afterAll(stopServingOverHttp);

describe('reliability: storage failures', () => {
  it('a failing setItem rejects write() with SyncStorageError; stored writes stay; the engine recovers', async () => {
    const base = localforage.createInstance({ name: `rxsync-reliability-${Math.random()}` }) as unknown as SyncStorage;
    const device = storageDevice(base);
    const storage = new FaultyStorage(device);
    const server = new SimulatedServer();
    const online$ = new BehaviorSubject(false);
    const options = { entities: { todos: { endpoint: '/todos' } }, transport: overHttp(server), storage, online$, retryBaseDelayMs: 1, retryMaxDelayMs: 10, retryJitter: 0 };
    const engine = createSyncEngine(options);
    await engine.ready;

    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'kept', title: 'stored before the fault' } });
    storage.failNextSetItems = 1; // quota exceeded
    const refused = engine.write({ entity: 'todos', operation: 'create', data: { id: 'refused', title: 'never stored' } });
    await expect(refused).rejects.toBeInstanceOf(SyncStorageError);
    await expect(refused).rejects.toMatchObject({ name: 'SyncStorageError' });
    expect(engine.getQueueLength()).toBe(1);

    // storage works again: new writes persist, and a restart finds the old and the new ones
    await engine.write({ entity: 'todos', operation: 'update', data: { id: 'kept', done: true } });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'later', title: 'after the fault' } });
    engine.destroy();
    const restarted = createSyncEngine({ ...options, storage: new FaultyStorage(device) });
    await restarted.ready;
    expect(restarted.getQueueLength()).toBe(2); // the update merged into the unsent create

    online$.next(true);
    const result = await restarted.flush();
    expect(result).toMatchObject({ success: true, pushed: 2 });
    expect(server.record('kept')).toEqual({ id: 'kept', title: 'stored before the fault', done: true });
    expect(server.record('later')).toEqual({ id: 'later', title: 'after the fault' });
    expect(server.record('refused')).toBeUndefined();
    expect(restarted.getStatus()).toMatchObject({ status: 'idle', queueLength: 0, failedCount: 0 });
    restarted.destroy();
  });
});
