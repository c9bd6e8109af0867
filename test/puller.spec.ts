import { NEVER, of } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { memoryStorage } from '../src/memoryStorage.js';
import { Puller, type PullerOptions } from '../src/puller.js';
import type { PullInfo, SyncEvent, SyncItem } from '../src/index.js';

/** A puller whose only job here is handing records to `onPull`; no request is made. */
function puller(onPull: (entity: 'todos', items: unknown[], info: PullInfo) => void | Promise<void>, overrides: Partial<PullerOptions<'todos'>> = {}) {
  const reported: SyncEvent[] = [];
  // Not an inline literal: newer pullers take more options (their own storage), which this
  // object also gives without the compiler calling them excess where they are not used yet.
  const options = {
    entities: { todos: { endpoint: '/todos' } },
    transport: { push: () => of({ status: 200, body: undefined }), pull: () => NEVER },
    store: { loadCheckpoint: () => Promise.resolve({}), saveCheckpoint: () => Promise.resolve() },
    stop$: NEVER,
    onPull,
    pendingFor: () => [],
    readYourWrites: false,
    storage: memoryStorage(),
    storageKey: 'rxsync',
    report: (event: SyncEvent) => reported.push(event),
  };
  const instance = new Puller<'todos'>({ ...options, ...overrides });
  return { puller: instance, reported };
}

/** The app's queued edit of todo "a". */
const edit: SyncItem = { id: 'w1', entity: 'todos', operation: 'update', data: { id: 'a', title: 'mine' }, timestamp: '2026-01-01T00:00:00.000Z', retryCount: 0 };
/** What the app is handed of todo "a" (a record, and whether it is named as pending), in order. */
const ofA = (seen: [unknown[], PullInfo][]) => seen.flatMap(([items, { pending }]) => items.filter((item) => (item as { id: unknown }).id === 'a').map((item) => [item, pending.includes('a')]));
const turn = () => new Promise((resolve) => setImmediate(resolve));
/** The server's answer to {@link edit}: `data`. */
const answered = (p: Puller<'todos'>, data: unknown) => p.answered({ event: { type: 'pushed', item: edit, status: 200, body: data }, record: { entity: 'todos', data } }, false);

describe('the puller hands remote records to the app', () => {
  it('one hand-over at a time per entity, in order, however many queue up while one runs', async () => {
    const log: string[] = [];
    const finish = new Map<string, () => void>();
    const { puller: p } = puller(async (_entity, items) => {
      const name = String((items[0] as { id: string }).id);
      log.push(`start ${name}`);
      await new Promise<void>((resolve) => finish.set(name, resolve));
      log.push(`end ${name}`);
    });
    const a = p.apply('todos', [{ id: 'a' }]);
    const b = p.apply('todos', [{ id: 'b' }]);
    await new Promise((resolve) => setImmediate(resolve));
    finish.get('a')!();
    await a;
    await new Promise((resolve) => setImmediate(resolve));
    // b is being applied now; c arrives and must wait for it.
    const c = p.apply('todos', [{ id: 'c' }]);
    await new Promise((resolve) => setImmediate(resolve));
    finish.get('b')!();
    await b;
    await new Promise((resolve) => setImmediate(resolve));
    finish.get('c')!();
    await c;
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('a record handed over after a push whose onPull throws is reported as a callback error', async () => {
    const { puller: p, reported } = puller(() => {
      throw new Error('local db busy');
    });
    answered(p, { id: 'a' });
    await turn();
    expect(reported).toEqual([{ type: 'callback-error', callback: 'onPull', error: '[rxsync] onPull threw: local db busy' }]);
  });

  it('names no record as pending when the app has no write queued for any of them, nor one without an id', async () => {
    const seen: PullInfo[] = [];
    const { puller: p } = puller((_entity, _items, info) => {
      seen.push(info);
    });
    await p.apply('todos', [{ id: 'a' }, { title: 'no id' }]);
    expect(seen).toEqual([{ pending: [] }]);
  });

  it('records given back once their writes ended, and batches relayed from the leading tab, whose onPull throws are reported as callback errors', async () => {
    let pending: SyncItem[] = [edit];
    let throwing = false;
    const { puller: p, reported } = puller(
      () => {
        if (throwing) throw new Error('local db busy');
      },
      { readYourWrites: true, pendingFor: () => pending },
    );
    await p.apply('todos', [{ id: 'a', title: 'server' }]);
    pending = [];
    throwing = true;
    // As after every pull: the record is due back, nothing being pending any more.
    await p.sweep();
    p.relay({ entity: 'todos', items: [{ id: 'b' }], pending: [] });
    await turn();
    const error = { type: 'callback-error', callback: 'onPull', error: '[rxsync] onPull threw: local db busy' };
    expect(reported).toEqual([error, error]);
  });

  it('a hand-over still queued when the engine is destroyed never reaches the app, and fails, so a page behind it moves no checkpoint', async () => {
    const handed: unknown[] = [];
    let finish!: () => void;
    const { puller: p } = puller(async (_entity, items) => {
      handed.push(...items);
      if (handed.length === 1) await new Promise<void>((resolve) => (finish = resolve));
    });
    const first = p.apply('todos', [{ id: 'a' }]);
    const queued = p.apply('todos', [{ id: 'b' }]);
    await turn();
    p.close();
    finish();
    await first;
    await expect(queued).rejects.toThrow();
    expect(handed).toEqual([{ id: 'a' }]);
  });

  it('the server\'s answer with the very version a pull brought while the write waited is handed over: the app learns the record is no longer pending', async () => {
    let pending: SyncItem[] = [edit];
    const seen: [unknown[], PullInfo][] = [];
    const { puller: p } = puller((_entity, items, info) => void seen.push([items, info]), { pendingFor: () => pending });
    const applied = { id: 'a', title: 'mine', version: 2 };
    // The server applied the edit, a pull brings the result, and then the edit's answer comes.
    await p.apply('todos', [applied]);
    pending = [];
    answered(p, applied);
    await turn();
    expect(ofA(seen)).toEqual([
      [applied, true],
      [applied, false],
    ]);
  });

  it('a record due back once its writes ended waits for the newer one on its way: the app never sees the older one in between', async () => {
    let pending: SyncItem[] = [edit];
    const seen: [unknown[], PullInfo][] = [];
    let busy: Promise<void> | undefined;
    const { puller: p } = puller(
      async (_entity, items, info) => {
        seen.push([items, info]);
        await busy;
      },
      { readYourWrites: true, pendingFor: () => pending },
    );
    await p.apply('todos', [{ id: 'a', title: 'server', version: 1 }]);
    let release!: () => void;
    busy = new Promise((resolve) => (release = resolve));
    const other = p.apply('todos', [{ id: 'b' }]);
    // While the app is busy the edit is acked: a pull's sweep queues up first, the server's answer after it.
    pending = [];
    const swept = p.sweep();
    answered(p, { id: 'a', title: 'mine', version: 2 });
    busy = undefined;
    release();
    await Promise.all([other, swept]);
    await turn();
    expect(ofA(seen)).toEqual([
      [{ id: 'a', title: 'mine', version: 1 }, true],
      [{ id: 'a', title: 'mine', version: 2 }, false],
    ]);
  });

  it('an answer replayed from before a newer pulled record is not handed over, even when the app refused that record at first', async () => {
    let pending: SyncItem[] = [edit];
    let refuse = true;
    const handed: unknown[] = [];
    const { puller: p } = puller(
      (_entity, items) => {
        if (refuse) {
          refuse = false;
          throw new Error('local db busy');
        }
        handed.push(...items);
      },
      { readYourWrites: true, pendingFor: () => pending },
    );
    // Another client's edit, pulled while ours waits for its answer; the app fails to take it (the page comes again with the next pull).
    const theirs = { id: 'a', title: 'theirs', version: 3 };
    await expect(p.apply('todos', [theirs])).rejects.toThrow('local db busy');
    // Then our edit's answer, replayed from before theirs.
    pending = [];
    answered(p, { id: 'a', title: 'mine', version: 2 });
    await turn();
    expect(handed).toEqual([theirs]);
  });
});
