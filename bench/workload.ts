import type { SyncWrite } from '../src/index.js';

/** A small seeded PRNG (mulberry32), so every run writes the same workload. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function createWrite(n: number, prefix = 't'): SyncWrite<'todos'> {
  return {
    entity: 'todos',
    operation: 'create',
    data: { id: `${prefix}${n}`, title: `Task number ${n}`, done: false, priority: n % 5, tags: ['bench'] },
  };
}

/**
 * `count` writes, half of them updates of records created earlier in the same workload:
 * even positions create a new record, odd positions update a random earlier one.
 */
export function mixedWorkload(count: number, seed = 42, prefix = 't'): SyncWrite<'todos'>[] {
  const random = prng(seed);
  const writes: SyncWrite<'todos'>[] = [];
  let created = 0;
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0 || created === 0) {
      writes.push(createWrite(created++, prefix));
    } else {
      const target = Math.floor(random() * created);
      writes.push({ entity: 'todos', operation: 'update', data: { id: `${prefix}${target}`, done: random() < 0.5, priority: i % 5 } });
    }
  }
  return writes;
}

/** `count` creates of distinct records: nothing coalesces, every one is sent. */
export function createsWorkload(count: number, prefix = 'c'): SyncWrite<'todos'>[] {
  return Array.from({ length: count }, (_, n) => createWrite(n, prefix));
}

/** Payload bytes: the JSON length of each `{ entity, operation, data }` handed to write(). */
export function payloadBytes(writes: readonly SyncWrite<'todos'>[]): number {
  let bytes = 0;
  for (const { entity, operation, data } of writes) bytes += JSON.stringify({ entity, operation, data }).length;
  return bytes;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
