import { afterEach, describe, expect, it } from 'vitest';
import { createCountingStore, totalOps } from '../../bench/countingDriver.js';
import { startBenchServer, type BenchServer } from '../../bench/server.js';
import { median, mixedWorkload, payloadBytes } from '../../bench/workload.js';

describe('bench counting driver', () => {
  it('is a real localforage driver that counts operations and JSON bytes', async () => {
    const store = await createCountingStore();
    const value = { a: 1, b: ['x'] };
    await store.storage.setItem('k', value);
    expect(await store.storage.getItem('k')).toEqual(value);
    expect(await store.storage.keys()).toEqual(['k']);
    await store.storage.removeItem('k');
    expect(await store.storage.getItem('k')).toBeNull();
    expect(store.counters).toMatchObject({ setItem: 1, getItem: 2, keys: 1, removeItem: 1, bytesWritten: JSON.stringify(value).length });
    expect(totalOps(store.counters)).toBe(5);
    store.drop();
  });

  it('keeps data across instances opened with the same name', async () => {
    const name = `spec-${Math.random()}`;
    const first = await createCountingStore(name);
    await first.storage.setItem('x', 42);
    const second = await createCountingStore(name);
    expect(await second.storage.getItem('x')).toBe(42);
    expect(second.footprint()).toEqual({ keys: 1, bytes: 2 });
    second.drop();
  });
});

describe('bench server', () => {
  let server: BenchServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('is the reference server with its latency fault, counting requests, batches and applied writes', async () => {
    server = await startBenchServer({ latencyMs: 30 });
    const post = (key: string) =>
      fetch(`${server!.url}/todos`, { method: 'POST', headers: { 'Idempotency-Key': key, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: key }) });
    const t0 = Date.now();
    expect((await post('a')).status).toBe(201);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect((await post('a')).status).toBe(201);
    const batch = await fetch(`${server.url}/_batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ key: 'b', method: 'POST', path: '/todos', body: { id: 'b' } }, { key: 'a', method: 'POST', path: '/todos', body: { id: 'a' } }]),
    });
    expect(batch.status).toBe(200);
    expect(server.stats).toMatchObject({ requests: 3, batchRequests: 1, applied: 2 });
    server.reset();
    expect(server.stats).toMatchObject({ requests: 0, applied: 0 });
  });
});

describe('bench workload', () => {
  it('is half updates of earlier records, deterministic', () => {
    const writes = mixedWorkload(1000);
    expect(writes.filter((w) => w.operation === 'update')).toHaveLength(500);
    expect(mixedWorkload(1000)).toEqual(writes);
    const created = new Set<string>();
    for (const w of writes) {
      const id = (w.data as { id: string }).id;
      if (w.operation === 'create') created.add(id);
      else expect(created.has(id)).toBe(true);
    }
    expect(payloadBytes(writes.slice(0, 1))).toBe(JSON.stringify(writes[0]).length);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});
