import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { dedupe, Outbox, type OutboxCommand } from '../../src/operators/index.js';
import type { SyncItem } from '../../src/index.js';
import { item, testScheduler } from '../marbles.js';

const enqueue = (queued: SyncItem): OutboxCommand => ({ type: 'enqueue', item: queued });
/** What a user of the queue sees after each command: operation and data of every queued item. */
const view = (outbox: Outbox) => outbox.items().map((i) => `${i.id}:${i.operation}:${JSON.stringify(i.data)}`);

function run(commands: Record<string, OutboxCommand>, marble: string, expected: string, values: Record<string, string[]>) {
  testScheduler().run(({ cold, expectObservable }) => {
    const outbox = new Outbox();
    const durable = cold(marble, commands).pipe(
      dedupe({ outbox }),
      map((transition) => {
        outbox.persisted([transition]);
        return view(outbox);
      }),
    );
    expectObservable(durable).toBe(expected, values);
  });
}

describe('dedupe', () => {
  const c1 = item('k1', 'create', { id: '1', title: 'milk' });
  const u1 = item('k2', 'update', { id: '1', done: true });
  const u1b = item('k3', 'update', { id: '1', title: 'oat milk' });
  const d1 = item('k4', 'delete', { id: '1' });

  it('create then update: one create, fields shallow-merged', () => {
    run({ a: enqueue(c1), b: enqueue(u1) }, 'a-b|', 'a-b|', {
      a: ['k1:create:{"id":"1","title":"milk"}'],
      b: ['k1:create:{"id":"1","title":"milk","done":true}'],
    });
  });

  it('create then delete: nothing is left to send', () => {
    run({ a: enqueue(c1), b: enqueue(d1) }, 'a-b|', 'a-b|', { a: ['k1:create:{"id":"1","title":"milk"}'], b: [] });
  });

  it('update then update: one update, fields shallow-merged', () => {
    run({ a: enqueue(u1), b: enqueue(u1b) }, 'a-b|', 'a-b|', {
      a: ['k2:update:{"id":"1","done":true}'],
      b: ['k2:update:{"id":"1","done":true,"title":"oat milk"}'],
    });
  });

  it('update then delete: one delete', () => {
    run({ a: enqueue(u1), b: enqueue(d1) }, 'a-b|', 'a-b|', {
      a: ['k2:update:{"id":"1","done":true}'],
      b: ['k2:delete:{"id":"1"}'],
    });
  });

  it('the same operation with the same data: one item', () => {
    const again = item('k5', 'update', { id: '1', done: true });
    run({ a: enqueue(u1), b: enqueue(again) }, 'a-b|', 'a-b|', {
      a: ['k2:update:{"id":"1","done":true}'],
      b: ['k2:update:{"id":"1","done":true}'],
    });
  });

  it('delete then create: both, in order', () => {
    const recreate = item('k6', 'create', { id: '1', title: 'new' });
    run({ a: enqueue(d1), b: enqueue(recreate) }, 'a-b|', 'a-b|', {
      a: ['k4:delete:{"id":"1"}'],
      b: ['k4:delete:{"id":"1"}', 'k6:create:{"id":"1","title":"new"}'],
    });
  });

  it('creates without an id are never merged, except an identical duplicate', () => {
    const a = item('ka', 'create', { title: 'milk' });
    const b = item('kb', 'create', { title: 'bread' });
    const aTwice = item('kc', 'create', { title: 'milk' });
    run({ a: enqueue(a), b: enqueue(b), c: enqueue(aTwice) }, 'abc|', 'abc|', {
      a: ['ka:create:{"title":"milk"}'],
      b: ['ka:create:{"title":"milk"}', 'kb:create:{"title":"bread"}'],
      c: ['ka:create:{"title":"milk"}', 'kb:create:{"title":"bread"}'],
    });
  });

  it('writes to different records are independent', () => {
    const c2 = item('k7', 'create', { id: '2', title: 'eggs' });
    run({ a: enqueue(c1), b: enqueue(c2), c: enqueue(u1) }, 'abc|', 'abc|', {
      a: ['k1:create:{"id":"1","title":"milk"}'],
      b: ['k1:create:{"id":"1","title":"milk"}', 'k7:create:{"id":"2","title":"eggs"}'],
      c: ['k1:create:{"id":"1","title":"milk","done":true}', 'k7:create:{"id":"2","title":"eggs"}'],
    });
  });

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

  it('an ack with the server\'s new version moves the next write of the record onto it', () => {
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

  it('ack, retried, dead-letter, requeue and clear', () => {
    const outbox = new Outbox();
    const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
    apply(enqueue(c1));
    apply(enqueue(item('k2', 'create', { id: '2' })));
    outbox.take(10);
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
});
