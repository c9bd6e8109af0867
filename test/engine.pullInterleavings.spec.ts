import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { memoryStorage, type PullInfo } from '../src/index.js';
import { testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/** A promise and the function that resolves it. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const todosOf = (): unknown[] => [...api.records.entries()].filter(([key]) => key.startsWith('todos/')).map(([, record]) => record);

/** Every title the app was shown for todo "1", in order, with its pending mark. */
function titlesShown() {
  const shown: string[] = [];
  const onPull = (_entity: string, items: unknown[], info: PullInfo): void => {
    for (const item of items as { id: string; title?: string }[]) {
      if (item.id === '1') shown.push(`${item.title}${info.pending.includes('1') ? ' (pending)' : ''}`);
    }
  };
  return { shown, onPull };
}

/**
 * Pull pages of todos answered by `pages(since)`, read as each request arrives; the request
 * numbered `hold.request` (default the first) is answered only once `hold.release` resolved.
 * Notes are always empty.
 */
function pagesOf(
  pages: (since: string | null) => { items: unknown[]; checkpoint: string; hasMore?: boolean },
  hold?: { arrived: () => void; release: Promise<void>; request?: number },
) {
  const asked: (string | null)[] = [];
  api.server.use(
    http.get(`${API}/notes`, () => HttpResponse.json({ items: [] })),
    http.get(`${API}/todos`, async ({ request }) => {
      const since = new URL(request.url).searchParams.get('since');
      asked.push(since);
      // The server reads the page as the request arrives.
      const page = pages(since);
      if (hold && asked.length === (hold.request ?? 1)) {
        hold.arrived();
        await hold.release;
      }
      return HttpResponse.json(page);
    }),
  );
  return asked;
}

/** Holds every PATCH until `release` opened, then lets the API answer it. */
function holdPatches(release: Promise<void>): void {
  api.override(async (request) => {
    if (request.method === 'PATCH') await release;
    return undefined;
  });
}

describe('pull and push interleaved', () => {
  it('pull while a push is in flight, the push acked first: the page the server read before it is asked for again, never shown over the answer', async () => {
    api.records.set('todos/1', { id: '1', title: 'old' });
    const getArrived = gate();
    const getReleased = gate();
    const patchReleased = gate();
    const asked = pagesOf(() => ({ items: todosOf(), checkpoint: 'c1' }), { arrived: getArrived.open, release: getReleased.opened });
    const view = titlesShown();
    const engine = testEngine({ startOnline: false, onPull: view.onPull });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'new' } });
    holdPatches(patchReleased.opened);
    engine.network.next(true);
    const pulled = engine.pull();
    await getArrived.opened; // the server has read the page: "old"
    const answered = firstValueFrom(engine.pulled$.pipe(filter(({ items }) => items.some((item) => (item as { title?: string }).title === 'new'))));
    patchReleased.open();
    await answered;
    getReleased.open();
    expect((await pulled).success).toBe(true);
    expect(view.shown).toEqual(['new', 'new']);
    // The same page again, from the same checkpoint.
    expect(asked).toEqual([null, null]);
    engine.destroy();
  });

  it('pull while a push is in flight, the page first: the record comes with the write on top, then the answer', async () => {
    api.records.set('todos/1', { id: '1', title: 'old' });
    const patchReleased = gate();
    pagesOf(() => ({ items: todosOf(), checkpoint: 'c1' }));
    const view = titlesShown();
    const engine = testEngine({ startOnline: false, onPull: view.onPull });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'new' } });
    holdPatches(patchReleased.opened);
    engine.network.next(true);
    await engine.pull();
    const answered = firstValueFrom(engine.pulled$);
    patchReleased.open();
    await answered;
    expect(view.shown).toEqual(['new (pending)', 'new']);
    engine.destroy();
  });

  it('a push acked between two pull pages: the second page, read before it, is asked for again from the first page\'s checkpoint', async () => {
    api.records.set('todos/2', { id: '2', title: 'other' });
    const secondArrived = gate();
    const secondReleased = gate();
    const patchReleased = gate();
    const asked = pagesOf(
      (since) =>
        since === null
          ? { items: [api.records.get('todos/2')], checkpoint: 'p1', hasMore: true }
          : // Another client's edit of "1" lies after p1: read before our write lands on it.
            { items: [api.records.get('todos/1')], checkpoint: 'p2' },
      { arrived: secondArrived.open, release: secondReleased.opened, request: 2 },
    );
    api.records.set('todos/1', { id: '1', title: 'theirs' });
    const view = titlesShown();
    const engine = testEngine({ startOnline: false, onPull: view.onPull });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    holdPatches(patchReleased.opened);
    engine.network.next(true);
    const pulled = engine.pull();
    await secondArrived.opened;
    const answered = firstValueFrom(engine.pulled$.pipe(filter(({ items }) => items.some((item) => (item as { id?: string }).id === '1'))));
    patchReleased.open();
    await answered;
    secondReleased.open();
    expect((await pulled).success).toBe(true);
    expect(view.shown).toEqual(['mine', 'mine']);
    expect(asked).toEqual([null, 'p1', 'p1']);
    engine.destroy();
  });

  it('a record that won a conflict arrives while onPull applies a page: the two never overlap, page first', async () => {
    api.records.set('todos/1', { id: '1', title: 'theirs' });
    pagesOf(() => ({ items: todosOf(), checkpoint: 'c1' }));
    const patchReleased = gate();
    const appFree = gate();
    const appBusy = gate();
    const calls: string[] = [];
    let active = 0;
    let overlapped = false;
    const view = titlesShown();
    const engine = testEngine({
      startOnline: false,
      // Storage that answers in microtasks: once they ran, a hand-over that could start has started.
      storage: memoryStorage(),
      onPull: async (entity, items, info) => {
        overlapped ||= active > 0;
        active++;
        view.onPull(entity, items, info);
        if (entity === 'todos' && calls.push(`${entity}:${items.length}`) === 1) {
          appBusy.open();
          await appFree.opened;
        }
        active--;
      },
    });
    await engine.write({ entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' } });
    // todos are server-wins: the 409 carries the record that won.
    api.override(async (request) => {
      if (request.method !== 'PATCH') return undefined;
      await patchReleased.opened;
      return HttpResponse.json(api.records.get('todos/1')!, { status: 409 });
    });
    engine.network.next(true);
    const pulled = engine.pull();
    await appBusy.opened;
    const conflict = firstValueFrom(engine.conflicts$);
    patchReleased.open();
    await conflict;
    // Run every microtask: the hand-over of the winning record would have started by now, could it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['todos:1']);
    appFree.open();
    // The pull ends with a hand-over queued behind the winning record's.
    await pulled;
    expect(overlapped).toBe(false);
    expect(view.shown).toEqual(['mine (pending)', 'theirs']);
    engine.destroy();
  });
});
