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

  it('dedupes by Idempotency-Key and answers after the latency', async () => {
    server = await startBenchServer({ latencyMs: 30 });
    const send = () =>
      fetch(`${server!.url}/todos`, {
        method: 'POST',
        headers: { 'Idempotency-Key': 'k1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ id: '1', title: 'a' }),
      });
    const t0 = Date.now();
    const first = await send();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    expect(first.status).toBe(201);
    expect((await send()).status).toBe(201);
    expect(server.stats).toMatchObject({ requests: 2, applied: 1, replayed: 1 });
    const patched = await fetch(`${server.url}/todos/1`, { method: 'PATCH', headers: { 'Idempotency-Key': 'k2' }, body: JSON.stringify({ done: true }) });
    expect(await patched.json()).toMatchObject({ id: '1', title: 'a', done: true, version: 2 });
    expect((await fetch(`${server.url}/todos/1`, { method: 'DELETE', headers: { 'Idempotency-Key': 'k3' } })).status).toBe(204);
  });

  it('answers POST /_batch with one result per sub-request', async () => {
    server = await startBenchServer({ latencyMs: 0 });
    const response = await fetch(`${server.url}/_batch`, {
      method: 'POST',
      body: JSON.stringify([
        { key: 'a', method: 'POST', path: '/todos', body: { id: '1' } },
        { key: 'b', method: 'PATCH', path: '/todos/1', body: { done: true }, ifMatch: 1 },
        { key: 'a', method: 'POST', path: '/todos', body: { id: '1' } },
      ]),
    });
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as { results: { key: string; status: number }[] };
    expect(results.map((r) => [r.key, r.status])).toEqual([['a', 201], ['b', 200], ['a', 201]]);
    expect(server.stats).toMatchObject({ requests: 1, batchRequests: 1, batchItems: 3, applied: 2, replayed: 1 });
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
