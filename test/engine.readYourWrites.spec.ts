import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryStorage, type PullInfo, type SyncEngineOptions, type SyncStorage } from '../src/index.js';
import { freshStorage, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/** A pull feed: the first GET of an entity (no checkpoint) answers all its records, later ones what changed since (nothing, here). */
function feed(): void {
  api.server.use(
    http.get(`${API}/:entity`, ({ params, request }) => {
      const since = new URL(request.url).searchParams.get('since');
      const prefix = `${String(params.entity)}/`;
      const items = since ? [] : [...api.records.entries()].filter(([key]) => key.startsWith(prefix)).map(([, record]) => record);
      return HttpResponse.json({ items, checkpoint: 'c1' });
    }),
  );
}

/** What a user sees: an app that takes every record onPull hands it (the last one wins), rows in `pending` marked. */
function app() {
  const rows = new Map<string, { record: unknown; pending: boolean }>();
  let lastPending: readonly (string | number)[] = [];
  const onPull = (_entity: string, items: unknown[], info: PullInfo): void => {
    lastPending = info.pending;
    for (const item of items) {
      const id = String((item as { id: unknown }).id);
      rows.set(id, { record: item, pending: info.pending.map(String).includes(id) });
    }
  };
  return { rows, onPull, row: (id: string) => rows.get(id), lastPending: () => lastPending };
}

const pushesFail = (): void => api.override((request) => (request.method !== 'GET' ? HttpResponse.error() : undefined));

/** An engine whose pull showed todo "1" with a pending edit on top; its pushes fail (network) until the test says otherwise. */
async function shownWithPendingEdit(options: Partial<SyncEngineOptions<'todos' | 'notes'>> = {}) {
  feed();
  api.records.set('todos/1', { id: '1', title: 'server', done: false });
  const view = app();
  const engine = testEngine({ startOnline: false, onPull: view.onPull, ...options });
  await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
  pushesFail();
  engine.network.next(true);
  await engine.pull();
  expect(view.row('1')).toEqual({ record: { id: '1', title: 'mine', done: false }, pending: true });
  return { engine, view };
}

/** Resolves with the next batch handing record `id` over as not pending. */
const settledRow = (engine: ReturnType<typeof testEngine>, id: string) =>
  firstValueFrom(engine.pulled$.pipe(filter(({ items, pending }) => items.some((item) => (item as { id: unknown }).id === id) && !pending.includes(id))));

/**
 * {@link shownWithPendingEdit}, then each PATCH answered by `answer` (undefined: the API's own
 * answer) until todo "1" is handed over as not pending: what the app shows then.
 */
async function afterPatchAnswered(answer: () => Response | undefined, options: Partial<SyncEngineOptions<'todos' | 'notes'>> = {}) {
  const { engine, view } = await shownWithPendingEdit(options);
  const back = settledRow(engine, '1');
  api.override((request) => (request.method === 'PATCH' ? answer() : undefined));
  // Reconnecting sends the held write again at once.
  engine.network.next(false);
  engine.network.next(true);
  await back;
  const { failedCount } = engine.getStatus();
  engine.destroy();
  return { row: view.row('1'), failedCount, lastPending: view.lastPending() };
}

const serverRecord = { record: { id: '1', title: 'server', done: false }, pending: false };

describe('engine: read-your-writes is on by default, and a pending write that fails gives the server\'s record back', () => {
  it('a dead letter: the app gets the record as the server holds it, no longer pending', async () => {
    const { row, failedCount, lastPending } = await afterPatchAnswered(() => HttpResponse.json({ error: 'title too long' }, { status: 422 }));
    expect(failedCount).toBe(1);
    expect(row).toEqual(serverRecord);
    expect(lastPending).toEqual([]);
  });

  it('a conflict the server won: its record when the 409 carries one, else the record pulled before', async () => {
    const theirs = { id: '1', title: 'theirs', done: true };
    expect((await afterPatchAnswered(() => HttpResponse.json(theirs, { status: 409 }))).row).toEqual({ record: theirs, pending: false });
    expect((await afterPatchAnswered(() => HttpResponse.json({ error: 'conflict' }, { status: 409 }))).row).toEqual(serverRecord);
  });

  it('a manual conflict that keeps the server\'s side, and clearQueue(), give the record back too', async () => {
    const manual = { entities: { todos: { endpoint: '/todos', conflictStrategy: 'manual' as const }, notes: { endpoint: '/notes' } }, onConflict: () => undefined };
    expect((await afterPatchAnswered(() => HttpResponse.json({ error: 'conflict' }, { status: 412 }), manual)).row).toEqual(serverRecord);

    const { engine, view } = await shownWithPendingEdit();
    const back = settledRow(engine, '1');
    await engine.clearQueue();
    await back;
    expect(view.row('1')).toEqual(serverRecord);
    engine.destroy();
  });

  it('an acked write: the server\'s answer, or without one the pulled record with the write applied, no longer pending', async () => {
    const mine = { record: { id: '1', title: 'mine', done: false }, pending: false };
    expect((await afterPatchAnswered(() => undefined)).row).toEqual(mine);
    expect((await afterPatchAnswered(() => new HttpResponse(null, { status: 204 }))).row).toEqual(mine);
  });

  it('the pulled record behind an overlay survives a restart: a write that fails after it still gives the record back', async () => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server', done: false });
    const storage = freshStorage();
    const view = app();
    const first = testEngine({ startOnline: false, storage, onPull: view.onPull });
    await first.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    pushesFail();
    first.network.next(true);
    await first.pull();
    expect(view.row('1')?.pending).toBe(true);
    first.destroy();

    // The next engine's pull starts from the stored checkpoint: the unchanged record does not come again.
    const second = testEngine({ startOnline: false, storage, onPull: view.onPull });
    await second.ready;
    const back = settledRow(second, '1');
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ error: 'refused' }, { status: 422 }) : undefined));
    second.network.next(true);
    await back;
    expect(view.row('1')).toEqual(serverRecord);
    second.destroy();
  });

  it('a write a pull showed on top of a record, then refused by storage: the app gets the record back as the server holds it', async () => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server', done: false });
    const inner = memoryStorage();
    let refuse: ((error: Error) => void) | undefined;
    const storage: SyncStorage = {
      ...inner,
      setItem: (key, value) => (/:outbox:/.test(key) ? new Promise((_, reject) => (refuse = reject)) : inner.setItem(key, value)),
    };
    const view = app();
    const engine = testEngine({ storage, onPull: view.onPull });
    await engine.ready;
    const write = engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    await engine.pull();
    expect(view.row('1')).toEqual({ record: { id: '1', title: 'mine', done: false }, pending: true });

    const back = settledRow(engine, '1');
    refuse!(new Error('QuotaExceededError (injected)'));
    await expect(write).rejects.toMatchObject({ name: 'SyncStorageError' });
    await back;
    expect(view.row('1')).toEqual(serverRecord);
    expect(api.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    engine.destroy();
  });

  it('storage that cannot keep the pulled record behind an overlay: it is reported, and the record is shown as the server sent it, unmarked, so a crash cannot leave it hidden or marked pending for ever', async () => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server', done: false });
    const inner = memoryStorage();
    const storage: SyncStorage = {
      ...inner,
      setItem: <T>(key: string, value: T): Promise<T> => (key.includes(':overlay-bases:') ? Promise.reject(new Error('disk full')) : inner.setItem(key, value)),
    };
    const view = app();
    const engine = testEngine({ startOnline: false, storage, onPull: view.onPull });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    engine.network.next(true);
    pushesFail();
    await engine.pull();
    expect(engine.seen.find((event) => event.type === 'storage-error')).toMatchObject({
      error: expect.stringMatching(/^\[rxsync\] Could not store .*disk full.*as the server sent them/),
      key: expect.stringContaining(':overlay-bases:'),
    });
    expect(view.row('1')).toEqual({ record: { id: '1', title: 'server', done: false }, pending: false });
    expect(view.lastPending()).toEqual([]);
    expect(engine.pendingFor('todos', '1')).toHaveLength(1);
    engine.destroy();
  });

  it.each([
    ['a dead letter', () => HttpResponse.json({ error: 'title too long' }, { status: 422 })],
    ['an ack without a body', () => new HttpResponse(null, { status: 204 })],
  ])('an onPull that throws when handed the record back after %s is reported as a callback error', async (_what, answer) => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server', done: false });
    let throwing = false;
    const engine = testEngine({
      startOnline: false,
      onPull: () => {
        if (throwing) throw new Error('the view is gone');
      },
    });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    pushesFail();
    engine.network.next(true);
    await engine.pull();
    throwing = true;
    const reported = firstValueFrom(engine.events$.pipe(filter((e) => e.type === 'callback-error')));
    api.override((request) => (request.method === 'PATCH' ? answer() : undefined));
    engine.network.next(false);
    engine.network.next(true);
    expect(await reported).toMatchObject({ callback: 'onPull', error: '[rxsync] onPull threw: the view is gone' });
    engine.destroy();
  });

  it('pulled records without an id are handed on as the server sent them, whatever versions they carry', async () => {
    // Two pulls, the second bringing a record without an id whose version is lower than the first's.
    const pages = [
      [{ title: 'no id', version: 5 }, { id: '1' }],
      [{ title: 'another without an id', version: 3 }],
    ];
    let pulls = 0;
    api.server.use(http.get(`${API}/:entity`, ({ params }) => HttpResponse.json({ items: params.entity === 'todos' ? (pages[pulls++] ?? []) : [], checkpoint: `c${pulls}` })));
    const handed: unknown[] = [];
    const engine = testEngine({ onPull: (_entity, records) => void handed.push(...records) });
    await engine.pull();
    await engine.pull();
    expect(handed).toEqual(pages.flat());
    engine.destroy();
  });

  it('readYourWrites: false: records come as the server sent them, so a failed write has nothing to give back', async () => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server' });
    const view = app();
    const engine = testEngine({ startOnline: false, readYourWrites: false, onPull: view.onPull });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    pushesFail();
    engine.network.next(true);
    await engine.pull();
    expect(view.row('1')).toEqual({ record: { id: '1', title: 'server' }, pending: true });
    const batches: unknown[] = [];
    engine.pulled$.subscribe((batch) => batches.push(batch));
    await engine.clearQueue();
    await engine.pull();
    expect(batches).toEqual([{ entity: 'todos', items: [], pending: [] }, { entity: 'notes', items: [], pending: [] }]);
    engine.destroy();
  });
});
