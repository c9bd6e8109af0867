/**
 * The page side of the browser benchmark: one library per page, driven from Node through
 * `window.benchPage`. Each library starts offline, takes the writes of a phase (serial: each
 * awaited until durable; burst: all at once), then drains them to the server when told.
 */
import localforage from 'localforage';
import { BehaviorSubject, filter, firstValueFrom } from 'rxjs';
import { createRxDatabase, type RxCollection, type RxJsonSchema } from 'rxdb/plugins/core';
import { replicateRxCollection } from 'rxdb/plugins/replication';
import { getRxStorageDexie } from 'rxdb/plugins/storage-dexie';
import { createSyncEngine, httpTransport } from '../../src/index.js';
import { benchWrites, type BenchWrite } from './workload.js';
import type { BenchPage, PageConfig, Phase, WorkerMessage } from './protocol.js';

interface Library {
  write(phase: Phase, writes: readonly BenchWrite[], serial: boolean): Promise<void>;
  drain(phase: Phase): Promise<void>;
}

async function rxsync(config: PageConfig): Promise<Library> {
  const online$ = new BehaviorSubject(false);
  const engine = createSyncEngine<Phase>({
    entities: { serial: { endpoint: `/${config.entities.serial}` }, burst: { endpoint: `/${config.entities.burst}` } },
    transport: httpTransport({ baseUrl: location.origin }),
    storage: localforage.createInstance({ name: 'rxsync-bench' }),
    online$,
    // Push only, like the peers' setups: the engine's own pulls would be requests the phases do not count.
    autoPull: false,
    ...(config.batchSize ? { batchSize: config.batchSize } : {}),
    ...(config.concurrency ? { concurrency: config.concurrency } : {}),
  });
  await engine.ready;
  return {
    async write(phase, writes, serial) {
      if (serial) for (const w of writes) await engine.write({ entity: phase, operation: w.operation, data: w.data });
      else await Promise.all(writes.map((w) => engine.write({ entity: phase, operation: w.operation, data: w.data })));
    },
    async drain() {
      online$.next(true);
      const status = await firstValueFrom(engine.status$.pipe(filter((s) => s.queueLength === 0 && s.inFlight === 0)));
      online$.next(false);
      if (status.failedCount > 0) throw new Error(`rxsync dead-lettered ${status.failedCount} writes: ${status.lastError}`);
    },
  };
}

type Doc = { id: string } & Record<string, unknown>;

const schema: RxJsonSchema<Doc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 64 },
    title: { type: 'string' },
    done: { type: 'boolean' },
    priority: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  required: ['id'],
};

/** RxDB with its free Dexie storage; replication pushes document states to `/_batch` as PUTs, 100 at a time. */
async function rxdb(config: PageConfig): Promise<Library> {
  const db = await createRxDatabase<Record<Phase, RxCollection<Doc>>>({ name: 'rxdbbench', storage: getRxStorageDexie(), multiInstance: false });
  await db.addCollections({ serial: { schema }, burst: { schema } });
  const latest = new Map<string, Doc>();
  const upsert = (phase: Phase, w: BenchWrite) => {
    // The whole document: RxDB stores states, so an update is the earlier state with the change merged in.
    const doc = { ...latest.get(w.data.id), ...w.data };
    latest.set(doc.id, doc);
    return db[phase].incrementalUpsert(doc);
  };
  return {
    async write(phase, writes, serial) {
      if (serial) for (const w of writes) await upsert(phase, w);
      else await Promise.all(writes.map((w) => upsert(phase, w)));
    },
    async drain(phase) {
      const entity = config.entities[phase];
      const replication = replicateRxCollection<Doc, unknown>({
        collection: db[phase],
        replicationIdentifier: `bench-${entity}`,
        live: true,
        waitForLeadership: false,
        push: {
          batchSize: 100,
          async handler(rows) {
            const batch = rows.map(({ newDocumentState }) => {
              const body = Object.fromEntries(Object.entries(newDocumentState).filter(([k]) => !k.startsWith('_')));
              return { method: 'PUT', path: `/${entity}/${encodeURIComponent(newDocumentState.id)}`, body };
            });
            const response = await fetch('/_batch', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(batch) });
            if (!response.ok) throw new Error(`/_batch answered ${response.status}`);
            const { results } = (await response.json()) as { results: { status: number }[] };
            if (results.some((r) => r.status >= 300)) throw new Error('a batch item was refused');
            return [];
          },
        },
      });
      let failure: unknown;
      const errors = replication.error$.subscribe((error) => (failure = error));
      await replication.awaitInitialReplication();
      await replication.awaitInSync();
      await replication.cancel();
      errors.unsubscribe();
      if (failure) throw failure instanceof Error ? failure : new Error(String(failure));
    },
  };
}

/** workbox-background-sync's Queue lives in the service worker (sw.ts); the page only sends it messages. */
async function workbox(config: PageConfig): Promise<Library> {
  await navigator.serviceWorker.register('/sw.js');
  const registration = await navigator.serviceWorker.ready;
  const call = (message: WorkerMessage) =>
    new Promise<boolean>((resolve, reject) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = ({ data }: MessageEvent<{ done?: boolean; error?: string }>) => (data.error ? reject(new Error(data.error)) : resolve(data.done === true));
      registration.active!.postMessage(message, [channel.port2]);
    });
  // Slices of work, one message each: a service worker event may not run longer than five minutes.
  const SLICE = 500;
  return {
    async write(phase, writes, serial) {
      const slices = Array.from({ length: Math.ceil(writes.length / SLICE) }, (_, i) => writes.slice(i * SLICE, (i + 1) * SLICE));
      const send = (slice: readonly BenchWrite[]) => call({ type: 'write', entity: config.entities[phase], writes: slice, serial });
      if (serial) for (const slice of slices) await send(slice);
      else await Promise.all(slices.map(send));
    },
    async drain() {
      while (!(await call({ type: 'drain', limit: SLICE })));
    },
  };
}

/** The data size of a stored key or value (structured-clone types as IndexedDB keeps them). */
function sizeOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (typeof value === 'number') return 8;
  if (typeof value === 'boolean' || value === null || value === undefined) return 1;
  if (value instanceof Blob) return value.size;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof Date) return 8;
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + sizeOf(v), 0);
  if (typeof value === 'object') return Object.entries(value).reduce((sum, [k, v]) => sum + k.length + sizeOf(v), 0);
  return 0;
}

const request = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

async function storedBytes(): Promise<number> {
  let total = 0;
  for (const { name } of await indexedDB.databases()) {
    if (name === undefined) continue;
    const db = await request(indexedDB.open(name));
    for (const store of db.objectStoreNames) {
      const tx = db.transaction(store, 'readonly');
      const [keys, values] = await Promise.all([request(tx.objectStore(store).getAllKeys()), request(tx.objectStore(store).getAll())]);
      total += sizeOf(keys) + sizeOf(values);
    }
    db.close();
  }
  return total;
}

let library: Library | undefined;
let config: PageConfig | undefined;

const page: BenchPage = {
  async setup(given) {
    config = given;
    library = await { rxsync, rxdb, workbox }[given.library](given);
  },
  async write(phase, serial) {
    const writes = benchWrites(config!.count, phase[0]);
    const started = performance.now();
    await library!.write(phase, writes, serial);
    return performance.now() - started;
  },
  async drain(phase) {
    const started = performance.now();
    await library!.drain(phase);
    return performance.now() - started;
  },
  storedBytes,
};
(window as unknown as { benchPage: BenchPage }).benchPage = page;
