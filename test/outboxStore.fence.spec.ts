import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxCommand } from '../src/outbox.js';
import { OutboxStore } from '../src/outboxStore.js';
import { item } from './marbles.js';
import { FaultyStorage, storageDevice } from './reliability/faultyStorage.js';

/**
 * An outbox store whose fence lets `allowed` more storage writes through, then refuses every one
 * (the tab lost the lead to another), over a storage device that holds what was really written.
 */
function fencedStore() {
  const device = storageDevice();
  const storage = new FaultyStorage(device);
  const outbox = new Outbox();
  const fence = { allowed: Infinity };
  const store = new OutboxStore(storage, 'k', () =>
    fence.allowed-- > 0 ? Promise.resolve() : Promise.reject(new Error('another tab took over (injected)')),
  );
  const write = async (command: OutboxCommand) => {
    const transition = outbox.apply(command);
    const state = () => ({ queue: outbox.items(), failed: outbox.failedItems(), ids: outbox.idAssignments() });
    try {
      await store.write(transition.changes, outbox.size, state, transition.assignments);
      outbox.persisted([transition]);
    } catch (error) {
      outbox.rollback([transition]);
      throw error;
    }
  };
  const enqueue = (id: string): OutboxCommand => ({ type: 'enqueue', item: item(id, 'create', { id }) });
  /** A write whose storage write fails, so that the next one stores a snapshot of everything. */
  const failOnce = async (id: string) => {
    storage.failNextSetItems = 1;
    await expect(write(enqueue(id))).rejects.toThrow(/Could not persist/);
  };
  const stored = async () => (await device.base.keys()).map((key) => key.replace(/^k:/, '')).sort();
  const reloaded = async () => (await new OutboxStore(device.base, 'k').load()).queue.map((i) => i.id);
  return { store, write, enqueue, failOnce, fence, stored, reloaded };
}

describe('OutboxStore: a tab that lost the lead writes nothing', () => {
  // The snapshot's write is fenced, then the deletion of the segments it covers: the tab loses
  // the lead before the first (no store passes), or between the two (one passes).
  it.each([
    ['not a snapshot: the log it would have replaced stays as it was', 0, ['outbox:log:1'], ['a']],
    ['nor a deletion: a snapshot stored just before it lost the lead leaves the segments it covers in place', 1, ['outbox:log:1', 'outbox:snapshot'], ['a', 'c']],
  ])('%s', async (_what, allowed, keys, queue) => {
    const { write, enqueue, failOnce, fence, stored, reloaded } = fencedStore();
    await write(enqueue('a'));
    await failOnce('b');
    fence.allowed = allowed;
    await expect(write(enqueue('c'))).rejects.toThrow(/another tab took over/);
    expect(await stored()).toEqual(keys);
    expect(await reloaded()).toEqual(queue);
  });

  it('nor a pull checkpoint', async () => {
    const { store, fence, stored } = fencedStore();
    await store.saveCheckpoint('todos', { checkpoint: 'c1' });
    fence.allowed = 0;
    await expect(store.saveCheckpoint('todos', { checkpoint: 'c2' })).rejects.toThrow(/another tab took over/);
    expect(await stored()).toEqual(['checkpoint:todos']);
    expect(await store.loadCheckpoint('todos')).toMatchObject({ checkpoint: 'c1' });
  });
});
