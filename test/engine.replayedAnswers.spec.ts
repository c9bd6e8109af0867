import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drained, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/** Every pull answers every record as the server holds it now. */
function feed(): void {
  let pulls = 0;
  api.server.use(
    http.get(`${API}/:entity`, ({ params }) => {
      const prefix = `${String(params.entity)}/`;
      return HttpResponse.json({ items: [...api.records.entries()].filter(([key]) => key.startsWith(prefix)).map(([, record]) => record), checkpoint: `c${++pulls}` });
    }),
  );
}

/**
 * The server applies the app's edit of todo "1" (version 2) but its answer is lost; the retry is
 * held until `release()`, then answered with the stored answer to that key: version 2 again.
 * `retried` resolves once the retry arrived.
 */
function lostThenReplayed() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrived!: () => void;
  const retried = new Promise<void>((resolve) => (arrived = resolve));
  const applied = { id: '1', title: 'mine', version: 2 };
  api.override(async (request, attempt) => {
    if (request.method !== 'PATCH') return undefined;
    if (attempt === 1) {
      api.records.set('todos/1', applied);
      return HttpResponse.error();
    }
    arrived();
    await released;
    return HttpResponse.json(applied);
  });
  return { retried, release };
}

/** Resolves once the app was handed a record of `id`; hand-overs of one entity go in order, so every one before it has ended. */
const handed = (engine: ReturnType<typeof testEngine>, id: string) =>
  firstValueFrom(engine.pulled$.pipe(filter(({ items }) => items.some((item) => (item as { id: unknown }).id === id))));

describe('engine: an answer replayed under its key, older than what a pull brought since', () => {
  it.each([true, false])('readYourWrites %s: the app keeps the newer record the pull brought, not the replayed answer', async (readYourWrites) => {
    feed();
    api.records.set('todos/1', { id: '1', title: 'server', version: 1 });
    const versions: unknown[] = [];
    const all: unknown[] = [];
    const engine = testEngine({
      readYourWrites,
      onPull: (_entity, items, { pending }) => {
        all.push(...items);
        for (const item of items) if ((item as { id: unknown }).id === '1') versions.push([(item as { version: unknown }).version, pending]);
      },
    });
    await engine.pull();
    const { retried, release } = lostThenReplayed();
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    await retried;
    // Another client's edit lands on top of ours, and a pull brings it while our retry is on its way.
    api.records.set('todos/1', { id: '1', title: 'mine', done: true, version: 3 });
    await engine.pull();
    release();
    await drained(engine);
    // Whatever the ack handed over of todo "1" was before this.
    const later = handed(engine, '2');
    await engine.write({ entity: 'todos', operation: 'create', data: { id: '2' } });
    await later;
    // Each with the ids the app should mark as pending; without readYourWrites the ack hands nothing older.
    expect(versions).toEqual(readYourWrites ? [[1, []], [3, ['1']], [3, []]] : [[1, []], [3, ['1']]]);
    // The dropped answer is not handed over as anything else either.
    expect(all.map((item) => (item as { id: unknown }).id)).toEqual(readYourWrites ? ['1', '1', '1', '2'] : ['1', '1', '2']);
    engine.destroy();
  });
});
