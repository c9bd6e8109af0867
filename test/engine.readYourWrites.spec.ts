import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PullInfo, SyncEngineOptions } from '../src/index.js';
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
  const onPull = (_entity: string, items: unknown[], info: PullInfo): void => {
    for (const item of items) {
      const id = String((item as { id: unknown }).id);
      rows.set(id, { record: item, pending: info.pending.map(String).includes(id) });
    }
  };
  return { rows, onPull, row: (id: string) => rows.get(id) };
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

describe('engine: read-your-writes is on by default, and a pending write that fails gives the server\'s record back', () => {
  it('a dead letter: the app gets the record as the server holds it, no longer pending', async () => {
    const { engine, view } = await shownWithPendingEdit();
    const back = settledRow(engine, '1');
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ error: 'title too long' }, { status: 422 }) : undefined));
    engine.network.next(false);
    engine.network.next(true);
    await back;
    expect(engine.getStatus().failedCount).toBe(1);
    expect(view.row('1')).toEqual({ record: { id: '1', title: 'server', done: false }, pending: false });
    engine.destroy();
  });

  it('a conflict the server won: its record when the 409 carries one, else the record pulled before', async () => {
    const withRecord = await shownWithPendingEdit();
    let back = settledRow(withRecord.engine, '1');
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ id: '1', title: 'theirs', done: true }, { status: 409 }) : undefined));
    withRecord.engine.network.next(false);
    withRecord.engine.network.next(true);
    await back;
    expect(withRecord.view.row('1')).toEqual({ record: { id: '1', title: 'theirs', done: true }, pending: false });
    withRecord.engine.destroy();

    const bare = await shownWithPendingEdit();
    back = settledRow(bare.engine, '1');
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ error: 'conflict' }, { status: 409 }) : undefined));
    bare.engine.network.next(false);
    bare.engine.network.next(true);
    await back;
    expect(bare.view.row('1')).toEqual({ record: { id: '1', title: 'server', done: false }, pending: false });
    bare.engine.destroy();
  });

  it('a manual conflict that keeps the server\'s side, and clearQueue(), give the record back too', async () => {
    const manual = await shownWithPendingEdit({ entities: { todos: { endpoint: '/todos', conflictStrategy: 'manual' }, notes: { endpoint: '/notes' } }, onConflict: () => undefined });
    let back = settledRow(manual.engine, '1');
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.json({ error: 'conflict' }, { status: 412 }) : undefined));
    manual.engine.network.next(false);
    manual.engine.network.next(true);
    await back;
    expect(manual.view.row('1')).toEqual({ record: { id: '1', title: 'server', done: false }, pending: false });
    manual.engine.destroy();

    const cleared = await shownWithPendingEdit();
    back = settledRow(cleared.engine, '1');
    await cleared.engine.clearQueue();
    await back;
    expect(cleared.view.row('1')).toEqual({ record: { id: '1', title: 'server', done: false }, pending: false });
    cleared.engine.destroy();
  });

  it('an acked write: the server\'s answer, or without one the pulled record with the write applied, no longer pending', async () => {
    const answered = await shownWithPendingEdit();
    let back = settledRow(answered.engine, '1');
    api.override(undefined);
    answered.engine.network.next(false);
    answered.engine.network.next(true);
    await back;
    expect(answered.view.row('1')).toEqual({ record: { id: '1', title: 'mine', done: false }, pending: false });
    answered.engine.destroy();

    const silent = await shownWithPendingEdit();
    back = settledRow(silent.engine, '1');
    api.override((request) => (request.method === 'PATCH' ? new HttpResponse(null, { status: 204 }) : undefined));
    silent.engine.network.next(false);
    silent.engine.network.next(true);
    await back;
    expect(silent.view.row('1')).toEqual({ record: { id: '1', title: 'mine', done: false }, pending: false });
    silent.engine.destroy();
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
    expect(view.row('1')).toEqual({ record: { id: '1', title: 'server', done: false }, pending: false });
    second.destroy();
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
