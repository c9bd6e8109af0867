import 'fake-indexeddb/auto';
import localforage from 'localforage';
import { BehaviorSubject, filter, firstValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { createSyncEngine, memoryStorage } from '../src/index.js';
import type { SyncEngine, SyncStorage } from '../src/index.js';
import { overHttp, SimulatedServer, stopServingOverHttp } from './reliability/simulatedServer.js';
import { SLOW_TEST_MS } from './support/slowTest.js';

afterAll(stopServingOverHttp);

let dbCount = 0;

/** Storage operations that delete: each `removeItem` or `clear` is one IndexedDB transaction. */
interface Deletions {
  removeItem: number;
  clear: number;
}

/**
 * A real localforage instance (fake-indexeddb) whose deletions are counted, in it and in any
 * store it opens; `failGet` makes `getItem` of a key fail, in it or in a store it opens.
 */
function countedLocalforage() {
  const deletions: Deletions = { removeItem: 0, clear: 0 };
  const failGet = new Set<string>();
  // A proxy, not patched methods: localforage puts its driver's methods on the instance once it is ready.
  const instrument = (store: LocalForage): LocalForage =>
    new Proxy(store, {
      get(target, name) {
        if (name === 'removeItem' || name === 'clear') {
          return (key?: string) => {
            deletions[name]++;
            return name === 'clear' ? target.clear() : target.removeItem(String(key));
          };
        }
        if (name === 'getItem') return (key: string) => (failGet.has(key) ? Promise.reject(new Error('disk read error (injected)')) : target.getItem(key));
        if (name === 'createInstance') {
          return (options: LocalForageOptions) => {
            const store = instrument(target.createInstance(options));
            opened.push(store);
            return store;
          };
        }
        const value: unknown = Reflect.get(target, name);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  const opened: LocalForage[] = [];
  const storage = instrument(localforage.createInstance({ name: `rxsync-outbox-store-${process.pid}-${++dbCount}` }));
  return { storage, deletions, failGet, opened };
}

/** A plain {@link SyncStorage} in memory whose `getItem` of a key can be made to fail. */
function plainStorage() {
  const base = memoryStorage();
  const failGet = new Set<string>();
  const storage: SyncStorage = {
    getItem: (key) => (failGet.has(key) ? Promise.reject(new Error('disk read error (injected)')) : base.getItem(key)),
    setItem: (key, value) => base.setItem(key, value),
    removeItem: (key) => base.removeItem(key),
    keys: () => base.keys(),
  };
  return { storage, base, failGet };
}

/** An engine on `storage`, offline until told; it sends in batches, since these tests are about what it stores, not how it sends. */
function engineOn(storage: SyncStorage, server = new SimulatedServer()) {
  const online$ = new BehaviorSubject(false);
  const engine = createSyncEngine({ entities: { todos: { endpoint: '/todos' } }, transport: overHttp(server), storage, online$, retryJitter: 0, batchSize: 10 });
  return { engine, online$, server };
}

async function writeSerially(engine: SyncEngine<'todos'>, ids: string[]): Promise<void> {
  for (const id of ids) await engine.write({ entity: 'todos', operation: 'create', data: { id, title: `todo ${id}` } });
}

function drained(engine: SyncEngine<'todos'>): Promise<unknown> {
  return firstValueFrom(engine.status$.pipe(filter((s) => s.queueLength === 0 && s.inFlight === 0 && s.failedCount === 0)));
}

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(from + i));

/** A queued create of todo `id`, as the outbox stores it. */
const queued = (id: string) => ({ id: `w${id}`, entity: 'todos', operation: 'create', data: { id, title: `todo ${id}` }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 });

describe('outbox store: compaction cost', () => {
  it('compacting a log of 1,500 segments in localforage costs a handful of deletions, not one per segment', async () => {
    const { storage, deletions, opened } = countedLocalforage();
    const { engine, online$, server } = engineOn(storage);
    await engine.ready;
    await writeSerially(engine, ids(1500)); // one durable write, one log segment each
    expect(deletions).toEqual({ removeItem: 0, clear: 0 });

    online$.next(true);
    await drained(engine); // the acks outgrow the live outbox: the log is compacted
    engine.destroy();
    expect(deletions.removeItem + deletions.clear).toBeLessThanOrEqual(5);
    expect(deletions.clear).toBeGreaterThan(0);
    expect(ids(1500).every((id) => server.record(id)?.title === `todo ${id}`)).toBe(true);

    // what is left on disk is a small outbox that loads as empty
    expect((await opened[0].keys()).length).toBeLessThan(1500);
    const again = engineOn(storage);
    await again.engine.ready;
    expect(again.engine.getQueueLength()).toBe(0);
    again.engine.destroy();
  }, SLOW_TEST_MS);

  it('a log written by an older version under the outbox keys still loads, and goes at the next compaction', async () => {
    const { storage } = countedLocalforage();
    const item = (id: string) => ({ id: `w${id}`, entity: 'todos', operation: 'create', data: { id, title: 'old' }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 });
    await storage.setItem('rxsync:outbox:log:1', { v: 1, entries: [['q', item('a')]] });
    await storage.setItem('rxsync:outbox:log:2', { v: 1, entries: [['q', item('b')]] });
    const { engine, online$, server } = engineOn(storage);
    await engine.ready;
    expect(engine.getQueueLength()).toBe(2);
    await writeSerially(engine, ['c']);
    online$.next(true);
    await drained(engine);
    expect([server.record('a'), server.record('b'), server.record('c')].map((r) => r?.title)).toEqual(['old', 'old', 'todo c']);
    online$.next(false);
    await writeSerially(engine, ids(1100, 100)); // enough to compact once more with the acks
    online$.next(true);
    await drained(engine);
    engine.destroy();
    expect((await storage.keys()).filter((k) => k.startsWith('rxsync:outbox:log:'))).toEqual([]);
  }, SLOW_TEST_MS);

  it('a snapshot that cannot be stored loses no segment: every durable write is still there after a restart', async () => {
    const { storage, opened } = countedLocalforage();
    const { engine } = engineOn(storage);
    await engine.ready;
    // 1,000 durable writes to one record: 1,000 segments for one live item, so the next write compacts
    await writeSerially(engine, ['x']);
    for (let n = 1; n < 1000; n++) await engine.write({ entity: 'todos', operation: 'update', data: { id: 'x', n } });
    const setItem = storage.setItem;
    storage.setItem = () => Promise.reject(new Error('QuotaExceededError (injected)'));
    await expect(engine.write({ entity: 'todos', operation: 'update', data: { id: 'x', n: 1000 } })).rejects.toMatchObject({ name: 'SyncStorageError' });
    storage.setItem = setItem;
    engine.destroy();
    expect((await opened[0].keys()).length).toBe(1000);

    const { engine: restarted, online$, server } = engineOn(storage);
    await restarted.ready;
    expect(restarted.getQueueLength()).toBe(1);
    online$.next(true);
    await drained(restarted);
    restarted.destroy();
    expect(server.record('x')).toEqual({ id: 'x', title: 'todo x', n: 999 });
  });
});

describe('outbox store: a log segment that cannot be read', () => {
  it.each([
    ['a plain SyncStorage', 'rxsync:outbox:log:3'],
    ['localforage', '3'],
  ])('in %s: is reported, never written over, never deleted, not even by compaction or a later load', async (kind, segmentKey) => {
    const setup = kind === 'localforage' ? countedLocalforage() : plainStorage();
    const { storage, failGet } = setup;
    const logStore = (): SyncStorage => ('opened' in setup ? setup.opened[setup.opened.length - 1] : setup.base);
    const first = engineOn(storage);
    await first.engine.ready;
    await writeSerially(first.engine, ['a', 'b', 'c']); // segments 1, 2, 3
    first.engine.destroy();
    const unreadable = await logStore().getItem(segmentKey);
    expect(unreadable).toMatchObject({ entries: [['q', { data: { id: 'c' } }]] });

    failGet.add(segmentKey);
    const second = engineOn(storage);
    const problems: string[] = [];
    second.engine.events$.subscribe((e) => e.type === 'storage-error' && problems.push(e.error));
    await second.engine.ready;
    expect(problems).toEqual([expect.stringMatching(/^\[rxsync\] Could not read ".*3" \(disk read error \(injected\)\); its writes are not loaded, and the key is left in place\./)]);
    expect(second.engine.getQueueLength()).toBe(2);
    await writeSerially(second.engine, ['d', ...ids(1200, 100)]); // a snapshot, then a log long enough to compact again
    second.online$.next(true);
    await drained(second.engine);
    second.engine.destroy();

    failGet.delete(segmentKey); // readable again: still kept for whoever repairs it, and not sent
    expect(await logStore().getItem(segmentKey)).toEqual(unreadable);
    const third = engineOn(storage, second.server);
    await third.engine.ready;
    expect(third.engine.getQueueLength()).toBe(0);
    await writeSerially(third.engine, ids(1200, 2000));
    third.online$.next(true);
    await drained(third.engine);
    third.engine.destroy();
    expect(await logStore().getItem(segmentKey)).toEqual(unreadable);
    expect(second.server.record('c')).toBeUndefined();
    expect(second.server.record('d')?.title).toBe('todo d');
  }, SLOW_TEST_MS);
});

describe('outbox store: a snapshot that cannot be read', () => {
  it('the engine starts empty, says so, refuses writes, and leaves the snapshot for the next engine, which delivers it', async () => {
    const { storage, base, failGet } = plainStorage();
    // a compacted outbox: the snapshot holds "a" (and covers segment 1, left behind), segment 2 adds "b"
    await base.setItem('rxsync:outbox:snapshot', { v: 1, seq: 1, queue: [queued('a')], failed: [] });
    await base.setItem('rxsync:outbox:log:1', { v: 1, entries: [['q', queued('gone')], ['q', 'wgone']] });
    await base.setItem('rxsync:outbox:log:2', { v: 1, entries: [['q', queued('b')]] });
    const before = new Map(await Promise.all((await base.keys()).map(async (key) => [key, await base.getItem(key)] as const)));

    failGet.add('rxsync:outbox:snapshot');
    const first = engineOn(storage);
    const problems: string[] = [];
    first.engine.events$.subscribe((e) => e.type === 'storage-error' && problems.push(e.error));
    await first.engine.ready;
    expect(problems).toEqual([
      expect.stringMatching(/^\[rxsync\] Could not read or set aside the stored outbox "rxsync:outbox:snapshot" \(disk read error \(injected\)\), so this engine starts empty and stores nothing/),
    ]);
    expect(first.engine.getQueueLength()).toBe(0);
    await expect(first.engine.write({ entity: 'todos', operation: 'create', data: { id: 'c' } })).rejects.toMatchObject({ name: 'SyncStorageError' });
    first.online$.next(true);
    await first.engine.flush();
    first.engine.destroy();
    expect(new Map(await Promise.all((await base.keys()).map(async (key) => [key, await base.getItem(key)] as const)))).toEqual(before);

    failGet.clear();
    const second = engineOn(storage, first.server);
    await second.engine.ready;
    second.online$.next(true);
    await drained(second.engine);
    second.engine.destroy();
    expect(['a', 'b', 'gone', 'c'].map((id) => first.server.record(id)?.title)).toEqual(['todo a', 'todo b', undefined, undefined]);
  });
});

describe('outbox store: the fresh snapshot a load with foreign data calls for', () => {
  it('replaces the segments it covers, later writes go to the log again, and a restart loads every write', async () => {
    const storage = memoryStorage();
    // a compacted outbox holding "a" (written when no id had been assigned), foreign data in segment 2, "b" in segment 3
    await storage.setItem('rxsync:outbox:snapshot', { v: 1, seq: 1, queue: [queued('a')], failed: [] });
    await storage.setItem('rxsync:outbox:log:2', 'not an outbox');
    await storage.setItem('rxsync:outbox:log:3', { v: 1, entries: [['q', queued('b')]] });
    const first = engineOn(storage);
    await first.engine.ready;
    await writeSerially(first.engine, ['c', 'd']);
    first.engine.destroy();
    expect((await storage.keys()).sort()).toEqual([expect.stringMatching(/^rxsync:corrupt:/), 'rxsync:outbox:log:4', 'rxsync:outbox:log:5', 'rxsync:outbox:snapshot']);

    const second = engineOn(storage, first.server);
    const problems: unknown[] = [];
    second.engine.events$.subscribe((e) => e.type === 'storage-error' && problems.push(e));
    await second.engine.ready;
    second.online$.next(true);
    await drained(second.engine);
    second.engine.destroy();
    expect(problems).toEqual([]);
    expect(['a', 'b', 'c', 'd'].map((id) => first.server.record(id)?.title)).toEqual(['todo a', 'todo b', 'todo c', 'todo d']);
  });
});
