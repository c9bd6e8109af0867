/**
 * Where enqueue time goes: runs one pattern repeatedly so a CPU profile has something to show,
 * and times the pieces of a write alone.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/rxsync-prof --import tsx bench/profile.ts burst
 *   npx tsx bench/profile.ts pieces
 */
import { performance } from 'node:perf_hooks';
import { BehaviorSubject } from 'rxjs';
import localforage from 'localforage';
import { createSyncEngine, httpTransport, memoryStorage, validateWrite, type SyncStorage } from '../src/index.js';
import { createCountingStore } from './countingDriver.js';
import { measureEnqueue } from './scenarios.js';
import { mixedWorkload } from './workload.js';

const mode = process.argv[2] ?? 'burst';

async function firstItem(engine: { queue$: import('rxjs').Observable<readonly unknown[]> }): Promise<unknown> {
  const { firstValueFrom } = await import('rxjs');
  return (await firstValueFrom(engine.queue$))[0];
}

async function timeBurst(storage: SyncStorage, n: number): Promise<number> {
  const engine = createSyncEngine({
    entities: { todos: { endpoint: '/todos' } },
    transport: httpTransport({ baseUrl: 'http://127.0.0.1:9' }),
    storage,
    online$: new BehaviorSubject(false),
  });
  await engine.ready;
  const writes = mixedWorkload(n);
  const t0 = performance.now();
  await Promise.all(writes.map((w) => engine.write(w)));
  const ms = performance.now() - t0;
  engine.destroy();
  return n / (ms / 1000);
}

if (mode === 'amplification') {
  // Bytes written by a serial run of the enqueue workload, split by the kind of key.
  const store = await createCountingStore();
  const storage = store.storage;
  const tally = new Map<string, { ops: number; bytes: number }>();
  const counted: SyncStorage = {
    getItem: (k) => storage.getItem(k),
    removeItem: (k) => {
      const kind = `removeItem ${k.replace(/:\d+$/, ':N')}`;
      const t = tally.get(kind) ?? { ops: 0, bytes: 0 };
      t.ops++;
      tally.set(kind, t);
      return storage.removeItem(k);
    },
    keys: () => storage.keys(),
    setItem: (k, v) => {
      const kind = `setItem ${k.replace(/:\d+$/, ':N')}`;
      const t = tally.get(kind) ?? { ops: 0, bytes: 0 };
      t.ops++;
      t.bytes += JSON.stringify(v).length;
      tally.set(kind, t);
      return storage.setItem(k, v);
    },
  };
  const engine = createSyncEngine({
    entities: { todos: { endpoint: '/todos' } },
    transport: httpTransport({ baseUrl: 'http://127.0.0.1:9' }),
    storage: counted,
    online$: new BehaviorSubject(false),
  });
  await engine.ready;
  const writes = mixedWorkload(20_000);
  const payload = writes.reduce((sum, { entity, operation, data }) => sum + JSON.stringify({ entity, operation, data }).length, 0);
  for (const w of writes) await engine.write(w);
  console.log(`payload ${payload} B for ${writes.length} writes (${(payload / writes.length).toFixed(1)} B/write); ${engine.getQueueLength()} queued`);
  for (const [kind, t] of tally) console.log(`${kind.padEnd(40)} ${String(t.ops).padStart(6)} ops ${String(t.bytes).padStart(10)} B  ${(t.bytes / payload).toFixed(2)}× payload`);
  const item = engine.getQueueLength() > 0 ? JSON.stringify((await firstItem(engine)) ?? {}) : '';
  console.log(`one queued item as stored: ${item.length} B: ${item}`);
  engine.destroy();
} else if (mode === 'burst' || mode === 'serial') {
  for (let i = 0; i < 10; i++) {
    const f = await measureEnqueue(20_000, mode);
    console.log(`${mode}: ${Math.round(f.writesPerSec)} writes/s`);
  }
} else if (mode === 'pieces') {
  const n = 20_000;
  const writes = mixedWorkload(n);
  const time = (label: string, body: () => void): void => {
    body();
    const t0 = performance.now();
    body();
    const ms = performance.now() - t0;
    console.log(`${label.padEnd(48)} ${((ms * 1000) / n).toFixed(2)} µs/write`);
  };
  time('validateWrite', () => {
    for (const w of writes) validateWrite(w, ['todos']);
  });
  time('crypto.randomUUID', () => {
    for (let i = 0; i < n; i++) crypto.randomUUID();
  });
  time('new Date().toISOString()', () => {
    for (let i = 0; i < n; i++) new Date(Date.now()).toISOString();
  });
  time('JSON.stringify(data) x2 (sameData on coalesce)', () => {
    for (const w of writes) JSON.stringify(w.data) === JSON.stringify(w.data);
  });
  for (let i = 0; i < 3; i++) {
    const store = await createCountingStore();
    console.log(`burst, localforage on counting driver: ${Math.round(await timeBurst(store.storage, n))} writes/s`);
    console.log(`burst, memoryStorage (structuredClone):  ${Math.round(await timeBurst(memoryStorage(), n))} writes/s`);
    const noop: SyncStorage = {
      getItem: async () => null,
      setItem: async (_k, v) => v,
      removeItem: async () => undefined,
      keys: async () => [],
    };
    console.log(`burst, no-op storage:                    ${Math.round(await timeBurst(noop, n))} writes/s`);
  }
  void localforage;
}
