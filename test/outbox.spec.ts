import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxCommand } from '../src/outbox.js';
import type { SyncItem } from '../src/index.js';
import { item } from './marbles.js';

const enqueue = (queued: SyncItem): OutboxCommand => ({ type: 'enqueue', item: queued });
/** What a user of the queue sees: id, operation and data of every queued item, in send order. */
const view = (outbox: Outbox) => outbox.items().map((i) => `${i.id}:${i.operation}:${JSON.stringify(i.data)}`);

const c1 = item('k1', 'create', { id: '1', title: 'milk' });
const u1 = item('k2', 'update', { id: '1', done: true });
const u1b = item('k3', 'update', { id: '1', title: 'oat milk' });
const d1 = item('k4', 'delete', { id: '1' });

describe('Outbox: the coalescing rules (src/coalesce.ts), write by write', () => {
  it.each<[rule: string, writes: SyncItem[], queue: string[]]>([
    ['create + update → one create, fields shallow-merged', [c1, u1], ['k1:create:{"id":"1","title":"milk","done":true}']],
    ['create + delete → nothing is left to send', [c1, d1], []],
    ['update + update → one update, fields shallow-merged', [u1, u1b], ['k2:update:{"id":"1","done":true,"title":"oat milk"}']],
    ['update + delete → one delete', [u1, d1], ['k2:delete:{"id":"1"}']],
    ['update + the same update → the queued item, unchanged', [u1, item('k5', 'update', { id: '1', done: true })], ['k2:update:{"id":"1","done":true}']],
    ['create + create of the same record → one create, the later fields win', [c1, item('k5', 'create', { id: '1', title: 'oat' })], ['k1:create:{"id":"1","title":"oat"}']],
    ['delete + create → both, in order', [d1, item('k6', 'create', { id: '1', title: 'new' })], ['k4:delete:{"id":"1"}', 'k6:create:{"id":"1","title":"new"}']],
    ['delete + update → both, in order', [d1, u1], ['k4:delete:{"id":"1"}', 'k2:update:{"id":"1","done":true}']],
    [
      'creates without an id → never merged, except an identical duplicate',
      [item('ka', 'create', { title: 'milk' }), item('kb', 'create', { title: 'bread' }), item('kc', 'create', { title: 'milk' })],
      ['ka:create:{"title":"milk"}', 'kb:create:{"title":"bread"}'],
    ],
    [
      'writes to different records → independent',
      [c1, item('k7', 'create', { id: '2', title: 'eggs' }), u1],
      ['k1:create:{"id":"1","title":"milk","done":true}', 'k7:create:{"id":"2","title":"eggs"}'],
    ],
    ['create + update + delete → nothing is left to send', [c1, u1, d1], []],
    [
      'the same write handed in twice (a tab re-sending it to a new leader) → queued once',
      [item('k9', 'update', { id: '2', n: 1 }), item('k10', 'update', { id: '2', n: 2 }), item('k9', 'update', { id: '2', n: 1 })],
      ['k9:update:{"id":"2","n":2}'],
    ],
    // A delete's data is often the bare id, which may equal what the queued write holds.
    ['create of a bare id + its delete → nothing is left to send', [item('k10', 'create', { id: '1' }), d1], []],
    ['update + delete with the same data → one delete', [item('k11', 'update', { id: '1' }), d1], ['k11:delete:{"id":"1"}']],
    ['update + create → both, in order', [u1, item('k12', 'create', { id: '1', title: 'new' })], ['k2:update:{"id":"1","done":true}', 'k12:create:{"id":"1","title":"new"}']],
  ])('%s', (_rule, writes, queue) => {
    const outbox = new Outbox();
    for (const write of writes) outbox.apply(enqueue(write));
    expect(view(outbox)).toEqual(queue);
  });
});

describe('Outbox: sending, storage and delivery', () => {
  it('an item in flight is never changed; the next write for its record waits behind it', () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    apply(enqueue(c1));
    const [sending] = outbox.take(10);
    expect(sending.id).toBe('k1');
    apply(enqueue(u1));
    apply(enqueue(u1b));
    expect(view(outbox)).toEqual([
      'k1:create:{"id":"1","title":"milk"}',
      'k2:update:{"id":"1","done":true,"title":"oat milk"}',
    ]);
    // Per-record order: the update is not ready while the create is in flight …
    expect(outbox.take(10)).toEqual([]);
    // … and is once the create is acknowledged.
    apply({ type: 'ack', id: 'k1' });
    expect(outbox.take(10).map((i) => i.id)).toEqual(['k2']);
  });

  it('a record in flight does not hold up other records (no head-of-line blocking)', () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    apply(enqueue(c1));
    outbox.take(1);
    apply(enqueue(u1));
    apply(enqueue(item('k8', 'create', { id: '2' })));
    expect(outbox.take(10).map((i) => i.id)).toEqual(['k8']);
  });

  it('an item is not sent before its latest change is durable', () => {
    const outbox = new Outbox();
    const first = outbox.apply(enqueue(c1));
    expect(outbox.take(10)).toEqual([]);
    outbox.persisted([first]);
    const merged = outbox.apply(enqueue(u1));
    expect(outbox.take(10)).toEqual([]);
    outbox.persisted([merged]);
    expect(outbox.take(10).map((i) => i.data)).toEqual([{ id: '1', title: 'milk', done: true }]);
  });

  it('items loaded from storage may have been sent: never merged into', () => {
    const outbox = new Outbox();
    outbox.apply({ type: 'load', queue: [c1], failed: [] });
    outbox.apply(enqueue(u1));
    expect(view(outbox)).toEqual(['k1:create:{"id":"1","title":"milk"}', 'k2:update:{"id":"1","done":true}']);
  });

  it('rollback takes back writes that could not be persisted, and only those', () => {
    const outbox = new Outbox();
    outbox.persisted([outbox.apply(enqueue(c1))]);
    const failedWrites = [outbox.apply(enqueue(u1)), outbox.apply(enqueue(item('k9', 'create', { id: '3' })))];
    expect(outbox.rollback(failedWrites)).toEqual(['k9']);
    expect(view(outbox)).toEqual(['k1:create:{"id":"1","title":"milk"}']);
    expect(outbox.take(10).map((i) => i.data)).toEqual([{ id: '1', title: 'milk' }]);
  });

  it("an ack with the server's new version moves the next write of the record onto it", () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    apply(enqueue(item('v1', 'update', { id: '1', title: 'a', version: 3 })));
    outbox.take(1);
    apply(enqueue(item('v2', 'update', { id: '1', done: true, version: 3 })));
    apply(enqueue(item('v3', 'update', { id: '2', version: 3 })));
    apply({ type: 'ack', id: 'v1', version: 4 });
    expect(outbox.get('v2')?.data).toEqual({ id: '1', done: true, version: 4 });
    expect(outbox.get('v3')?.data).toEqual({ id: '2', version: 3 });
  });

  it("an ack moves the next write onto the server's version only when both were based on the same one", () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    // Acked without a version from the server: the next write keeps the version it was based on.
    apply(enqueue(item('a1', 'update', { id: 'a', title: 'x', version: 3 })));
    outbox.take(10);
    apply(enqueue(item('a2', 'update', { id: 'a', done: true, version: 3 })));
    apply({ type: 'ack', id: 'a1' });
    expect(outbox.get('a2')?.data).toEqual({ id: 'a', done: true, version: 3 });
    // The acked write named no version: the next write, which names none either, gets no If-Match.
    apply(enqueue(item('b1', 'update', { id: 'b', title: 'x' })));
    outbox.take(10);
    apply(enqueue(item('b2', 'update', { id: 'b', done: true })));
    apply({ type: 'ack', id: 'b1', version: 8 });
    expect(outbox.get('b2')?.data).toEqual({ id: 'b', done: true });
    // The next write was based on another version than the acked one: it is left to conflict.
    apply(enqueue(item('c1', 'update', { id: 'c', title: 'x', version: 3 })));
    outbox.take(10);
    apply(enqueue(item('c2', 'update', { id: 'c', done: true, version: 2 })));
    apply({ type: 'ack', id: 'c1', version: 4 });
    expect(outbox.get('c2')?.data).toEqual({ id: 'c', done: true, version: 2 });
  });

  it('a requeued dead letter may have reached the server: a new write of its record is queued behind it, never merged into it', () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    apply(enqueue(u1));
    outbox.take(10);
    apply({ type: 'dead-letter', id: 'k2', error: 'gave up' });
    apply({ type: 'requeue' });
    apply(enqueue(u1b));
    expect(view(outbox)).toEqual(['k2:update:{"id":"1","done":true}', 'k3:update:{"id":"1","title":"oat milk"}']);
    expect(outbox.take(10).map((i) => i.id)).toEqual(['k2']);
  });

  it('take() hands out at most `limit` ready items, oldest first, each only once', () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    for (const id of ['1', '2', '3']) apply(enqueue(item(`t${id}`, 'create', { id })));
    expect(outbox.take(2).map((i) => i.id)).toEqual(['t1', 't2']);
    expect(outbox.inFlightCount).toBe(2);
    expect(outbox.take(2).map((i) => i.id)).toEqual(['t3']);
    expect(outbox.take(2)).toEqual([]);
  });

  /** An outbox with two creates handed out, and `apply`, which stores a command's changes at once. */
  function twoInFlight() {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    apply(enqueue(c1));
    apply(enqueue(item('k2', 'create', { id: '2' })));
    outbox.take(10);
    return { outbox, apply };
  }

  it('ack, retried, dead-letter, requeue and clear', () => {
    const { outbox, apply } = twoInFlight();
    apply({ type: 'retried', id: 'k1', error: '503' });
    expect(outbox.get('k1')).toMatchObject({ retryCount: 1, lastError: '503' });
    apply({ type: 'dead-letter', id: 'k1', error: '400' });
    apply({ type: 'ack', id: 'k2' });
    expect(outbox.size).toBe(0);
    expect(outbox.failedItems().map((i) => [i.id, i.lastError])).toEqual([['k1', '400']]);
    apply({ type: 'requeue' });
    expect(outbox.failedCount).toBe(0);
    expect(outbox.items()).toEqual([{ ...c1, retryCount: 0 }]);
    apply({ type: 'clear' });
    expect(outbox.size + outbox.failedCount).toBe(0);
  });

  it("a second ack of a write changes nothing (a transport of the app's own may answer one push twice)", () => {
    const { outbox, apply } = twoInFlight();
    apply({ type: 'ack', id: 'k1' });
    expect(outbox.apply({ type: 'ack', id: 'k1' }).changes).toEqual([]);
    expect(view(outbox)).toEqual(['k2:create:{"id":"2"}']);
  });
});
