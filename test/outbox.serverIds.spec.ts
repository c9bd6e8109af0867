import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_ID_ASSIGNMENTS, Outbox, type OutboxCommand } from '../src/outbox.js';
import { OutboxStore } from '../src/outboxStore.js';
import type { SyncItem } from '../src/index.js';
import { item } from './marbles.js';
import { FaultyStorage, storageDevice } from './reliability/faultyStorage.js';

const enqueue = (queued: SyncItem): OutboxCommand => ({ type: 'enqueue', item: queued });
const view = (outbox: Outbox) => outbox.items().map((i) => `${i.id}:${i.operation}:${JSON.stringify(i.data)}`);

/** An outbox whose every change is durable at once, with the temporary-id create `t1` sent. */
function withCreateInFlight() {
  const outbox = new Outbox();
  const apply = (command: OutboxCommand) => {
    const transition = outbox.apply(command);
    outbox.persisted([transition]);
    return transition;
  };
  apply(enqueue(item('c', 'create', { id: 't1', title: 'milk' })));
  expect(outbox.take(10).map((i) => i.id)).toEqual(['c']);
  return { outbox, apply };
}

describe('Outbox: ids the server assigns (ack with assignedId)', () => {
  it('an update and a delete queued behind an unacked create wait for it, then move onto the server id with the ack', () => {
    const { outbox, apply } = withCreateInFlight();
    apply(enqueue(item('u', 'update', { id: 't1', done: true })));
    expect(outbox.take(10)).toEqual([]);
    const transition = apply({ type: 'ack', id: 'c', assignedId: 17 });
    expect(view(outbox)).toEqual(['u:update:{"id":17,"done":true}']);
    expect(outbox.pendingFor('todos', 't1')).toEqual([]);
    expect(outbox.pendingFor('todos', 17).map((i) => i.id)).toEqual(['u']);
    // The ack, the move and the assignment are one transition: one batch in storage.
    expect(transition.changes.map((c) => [c.id, c.item ? JSON.stringify(c.item.data) : 'gone'])).toEqual([
      ['c', 'gone'],
      ['u', '{"id":17,"done":true}'],
    ]);
    expect(transition.assignments).toEqual([{ key: 'todos\u0000t1', assignment: { entity: 'todos', tempId: 't1', id: 17 } }]);
    expect(outbox.take(10).map((i) => i.data)).toEqual([{ id: 17, done: true }]);
  });

  it('a moved write is not sent before the ack that moved it is durable', () => {
    const outbox = new Outbox();
    outbox.persisted([outbox.apply(enqueue(item('c', 'create', { id: 't1' })))]);
    outbox.take(10);
    outbox.persisted([outbox.apply(enqueue(item('d', 'delete', { id: 't1' })))]);
    const ack = outbox.apply({ type: 'ack', id: 'c', assignedId: 'srv-1' });
    expect(outbox.take(10)).toEqual([]);
    outbox.persisted([ack]);
    expect(outbox.take(10).map((i) => `${i.operation} ${JSON.stringify(i.data)}`)).toEqual(['delete {"id":"srv-1"}']);
  });

  it.each<[rule: string, writes: SyncItem[], queue: string[]]>([
    ['an update with the temporary id, after the ack → sent to the server id', [item('u2', 'update', { id: 't1', title: 'oat' })], ['u2:update:{"id":17,"title":"oat"}']],
    ['a delete with the temporary id, after the ack → deletes the server id', [item('d2', 'delete', { id: 't1' })], ['d2:delete:{"id":17}']],
    [
      'writes with the temporary id and with the server id coalesce as one record',
      [item('u2', 'update', { id: 't1', title: 'oat' }), item('u3', 'update', { id: 17, done: true })],
      ['u2:update:{"id":17,"title":"oat","done":true}'],
    ],
    ['a write to another record is left alone', [item('u4', 'update', { id: 't2', title: 'x' })], ['u4:update:{"id":"t2","title":"x"}']],
  ])('%s', (_rule, writes, queue) => {
    const { outbox, apply } = withCreateInFlight();
    apply({ type: 'ack', id: 'c', assignedId: 17 });
    for (const write of writes) apply(enqueue(write));
    expect(view(outbox)).toEqual(queue);
  });

  it('writes already queued for the server id (seen in a pull) and the moved ones keep the order they were written in', () => {
    const { outbox, apply } = withCreateInFlight();
    apply(enqueue(item('early', 'update', { id: 't1', a: 1 })));
    apply(enqueue(item('late', 'update', { id: 17, b: 2 })));
    apply({ type: 'ack', id: 'c', assignedId: 17 });
    expect(outbox.pendingFor('todos', 17).map((i) => i.id)).toEqual(['early', 'late']);
  });

  it.each<[rule: string, command: OutboxCommand]>([
    ['no assignedId', { type: 'ack', id: 'c' }],
    ['the server kept the id', { type: 'ack', id: 'c', assignedId: 't1' }],
  ])('an ack with %s assigns nothing', (_rule, command) => {
    const { outbox, apply } = withCreateInFlight();
    apply(enqueue(item('u', 'update', { id: 't1', done: true })));
    expect(apply(command).assignments ?? []).toEqual([]);
    expect(view(outbox)).toEqual(['u:update:{"id":"t1","done":true}']);
    expect(outbox.idAssignments()).toEqual([]);
  });

  it('a dead letter written with the temporary id is requeued under the server id', () => {
    const { outbox, apply } = withCreateInFlight();
    apply(enqueue(item('other', 'create', { id: 'x' })));
    apply({ type: 'ack', id: 'c', assignedId: 17 });
    apply(enqueue(item('u', 'update', { id: 't1', done: true })));
    outbox.take(10);
    // Written before the ack reached it (e.g. a dead letter from storage): still the temporary id.
    apply({ type: 'load', queue: [], failed: [item('f', 'update', { id: 't1', late: true })] });
    apply({ type: 'requeue' });
    expect(outbox.items().find((i) => i.id === 'f')?.data).toEqual({ id: 17, late: true });
  });

  it('assignments load with the outbox and keep translating after a restart', () => {
    const outbox = new Outbox();
    outbox.apply({ type: 'load', queue: [], failed: [], ids: [{ entity: 'todos', tempId: 't1', id: 17 }] });
    outbox.apply(enqueue(item('u', 'update', { id: 't1', done: true })));
    expect(view(outbox)).toEqual(['u:update:{"id":17,"done":true}']);
  });

  it(`keeps the last ${MAX_ID_ASSIGNMENTS} assignments and forgets the oldest`, () => {
    const outbox = new Outbox();
    let last;
    for (let n = 0; n <= MAX_ID_ASSIGNMENTS; n++) {
      outbox.persisted([outbox.apply(enqueue(item(`c${n}`, 'create', { id: `t${n}` })))]);
      outbox.take(1);
      last = outbox.apply({ type: 'ack', id: `c${n}`, assignedId: n });
    }
    expect(outbox.idAssignmentCount).toBe(MAX_ID_ASSIGNMENTS);
    expect(last?.assignments).toEqual([
      { key: `todos\u0000t${MAX_ID_ASSIGNMENTS}`, assignment: { entity: 'todos', tempId: `t${MAX_ID_ASSIGNMENTS}`, id: MAX_ID_ASSIGNMENTS } },
      { key: 'todos\u0000t0', assignment: undefined },
    ]);
    outbox.apply(enqueue(item('u0', 'update', { id: 't0' })));
    outbox.apply(enqueue(item('u1', 'update', { id: 't1' })));
    expect(view(outbox)).toEqual(['u0:update:{"id":"t0"}', 'u1:update:{"id":1}']);
  });
});

describe('OutboxStore: id assignments on disk', () => {
  it.each([
    ['in a log segment', false],
    ['in a snapshot (the log segment failed, so the next write stores everything)', true],
  ])('the ack, the moved write and the assignment come back together (%s)', async (_where, viaSnapshot) => {
    const device = storageDevice();
    const storage = new FaultyStorage(device);
    const outbox = new Outbox();
    const store = new OutboxStore(storage, 'k');
    const write = async (command: OutboxCommand) => {
      const transition = outbox.apply(command);
      outbox.persisted([transition]);
      const state = () => ({ queue: outbox.items(), failed: outbox.failedItems(), ids: outbox.idAssignments() });
      await store.write(transition.changes, outbox.size, state, transition.assignments);
    };
    await write(enqueue(item('c', 'create', { id: 't1' })));
    expect(outbox.take(1)).toHaveLength(1);
    await write(enqueue(item('u', 'update', { id: 't1', done: true })));
    if (viaSnapshot) {
      storage.failNextSetItems = 1;
      await expect(write({ type: 'ack', id: 'c', assignedId: 17 })).rejects.toThrow(/Could not persist/);
      await write(enqueue(item('other', 'create', { id: 'x' })));
      expect((await device.base.keys()).filter((key) => key.endsWith(':snapshot'))).toHaveLength(1);
    } else {
      await write({ type: 'ack', id: 'c', assignedId: 17 });
    }
    const loaded = await new OutboxStore(device.base, 'k').load();
    expect(loaded.problems).toEqual([]);
    expect(loaded.queue.map((i) => [i.id, i.data])).toEqual([['u', { id: 17, done: true }], ...(viaSnapshot ? [['other', { id: 'x' }]] : [])]);
    expect(loaded.ids).toEqual([{ entity: 'todos', tempId: 't1', id: 17 }]);
  });
});

describe('Outbox: ids the server assigns, any interleaving (fast-check)', () => {
  it('whatever the app writes with the temporary or the server id, and whenever answers come, every write after the create reaches the server id, in order', () => {
    type Step = { write: 'temp' | 'server' } | { deliver: number };
    const step = fc.oneof(
      fc.record({ write: fc.constantFrom<'temp' | 'server'>('temp', 'server') }),
      fc.record({ deliver: fc.integer({ min: 1, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps: Step[]) => {
        const outbox = new Outbox();
        const apply = (command: OutboxCommand) => outbox.persisted([outbox.apply(command)]);
        /** What the server got, in order: the create, then each write's id and `n`. */
        const server: { op: string; id: unknown; n?: number }[] = [];
        let assigned = false;
        let n = 0;
        let key = 0;
        const deliver = (limit: number) => {
          for (const sent of outbox.take(limit)) {
            const data = sent.data as { id: unknown; n?: number };
            server.push({ op: sent.operation, id: sent.operation === 'create' ? undefined : data.id, n: data.n });
            apply({ type: 'ack', id: sent.id, ...(sent.operation === 'create' ? { assignedId: 'S' } : {}) });
            if (sent.operation === 'create') assigned = true;
          }
        };
        apply(enqueue(item(`k${key++}`, 'create', { id: 'T', n: n })));
        for (const s of steps) {
          if ('deliver' in s) deliver(s.deliver);
          else apply(enqueue(item(`k${key++}`, 'update', { id: s.write === 'server' && assigned ? 'S' : 'T', n: ++n })));
        }
        while (outbox.size > 0) deliver(10);
        expect(server[0].op).toBe('create');
        expect(server.slice(1).every((write) => write.op === 'update' && write.id === 'S')).toBe(true);
        // Order kept: the `n`s the server saw only grow, and it ends with the app's last.
        const seen = server.map((write) => write.n ?? 0);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        expect(seen.at(-1)).toBe(n);
      }),
      { numRuns: 300 },
    );
  });
});
