/**
 * Tabs sharing one outbox, in Node: the leader election and forwarding over Node's own
 * BroadcastChannel with a Web Locks manager shared by the simulated tabs (test/support/fakeTabs.ts),
 * the real localforage on fake-indexeddb and an msw REST API.
 */
import { http, HttpResponse } from 'msw';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SyncOptionsError, type SyncItem, type SyncStatusInfo } from '../src/index.js';
import { drained, freshStorage, testEngine, type TestEngine } from './support/engineHarness.js';
import { FakeBrowser, type FakeTab } from './support/fakeTabs.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

type Storage = ReturnType<typeof freshStorage>;

/** One tab of the app: its own engine object on the shared database. */
function openTab(storage: Storage, tab: FakeTab, options: Parameters<typeof testEngine>[0] = {}): TestEngine {
  return testEngine({ storage, tabs: tab.options, ...options });
}

const statusOf = (engine: TestEngine, holds: (status: SyncStatusInfo) => boolean) => firstValueFrom(engine.status$.pipe(filter(holds)));
const ids = (items: readonly SyncItem[]) => items.map((item) => (item.data as { id: string }).id);
describe('tabs share one outbox', () => {
  it('one tab leads; a write in another tab resolves once durable, is sent once by the leader, and every tab shows the same queue', async () => {
    const browser = new FakeBrowser();
    const storage = freshStorage();
    const leader = openTab(storage, browser.tab(), { startOnline: false });
    await leader.ready;
    const follower = openTab(storage, browser.tab(), { startOnline: false });
    await follower.ready;
    expect(leader.getStatus().leader).toBe(true);
    await statusOf(follower, (s) => s.leader === false);

    const written = await follower.write({ entity: 'todos', operation: 'create', data: { id: 'from-follower', title: 'milk' } });
    expect(written.data).toEqual({ id: 'from-follower', title: 'milk' });
    // Durable before it resolved: the leader holds it, and it shows in both tabs.
    expect(ids(leader.pendingFor('todos', 'from-follower'))).toEqual(['from-follower']);
    await leader.write({ entity: 'todos', operation: 'create', data: { id: 'from-leader' } });
    await firstValueFrom(follower.queue$.pipe(filter((queue) => queue.length === 2)));
    expect(follower.getQueueLength()).toBe(2);
    expect(ids(follower.pendingFor('todos', 'from-follower'))).toEqual(['from-follower']);
    await statusOf(follower, (s) => s.queueLength === 2 && s.status === 'offline' && s.leader === false);

    // The follower's flush() runs at the leader and says what happened there: the leader is offline.
    follower.network.next(true);
    expect(await follower.flush()).toMatchObject({ success: false, pushed: 0 });
    leader.network.next(true);
    await drained(leader);
    expect([...api.records.keys()].sort()).toEqual(['todos/from-follower', 'todos/from-leader']);
    expect(api.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
    await statusOf(follower, (s) => s.status === 'idle' && s.queueLength === 0);
    // What the leader reports (its pushed events) every tab hears.
    expect(follower.seen.filter((e) => e.type === 'pushed')).toHaveLength(2);
    follower.destroy();
    leader.destroy();
  });

  it('writes$ in a follower, clearQueue() and reprocessFailed() act on the shared outbox', async () => {
    const browser = new FakeBrowser();
    const storage = freshStorage();
    const leader = openTab(storage, browser.tab(), { startOnline: false });
    await leader.ready;
    const follower = openTab(storage, browser.tab());
    await follower.ready;
    follower.writes$.next({ entity: 'todos', operation: 'create', data: { id: 'w' } });
    await firstValueFrom(leader.queue$.pipe(filter((queue) => queue.length === 1)));
    await follower.clearQueue();
    expect(leader.getQueueLength()).toBe(0);
    await firstValueFrom(follower.queue$.pipe(filter((queue) => queue.length === 0)));

    api.override((request) => (request.path.endsWith('/bad') || (request.body as { id?: string })?.id === 'bad' ? new Response('no', { status: 400 }) : undefined));
    await follower.write({ entity: 'todos', operation: 'create', data: { id: 'bad' } });
    leader.network.next(true);
    await firstValueFrom(follower.failed$.pipe(filter((failed) => failed.length === 1)));
    api.override(undefined);
    await follower.reprocessFailed();
    await firstValueFrom(follower.failed$.pipe(filter((failed) => failed.length === 0)));
    expect(api.records.has('todos/bad')).toBe(true);
    follower.destroy();
    leader.destroy();
  });

  it('pulled records reach every tab, pulled once, by the leader', async () => {
    const asked: string[] = [];
    api.server.use(
      http.get(`${API}/:entity`, ({ params }) => {
        asked.push(String(params.entity));
        return HttpResponse.json(params.entity === 'todos' ? { items: [{ id: 'p', title: 'from the server' }], checkpoint: '1' } : { items: [] });
      }),
    );
    const browser = new FakeBrowser();
    const storage = freshStorage();
    const got: unknown[] = [];
    const leader = openTab(storage, browser.tab());
    await leader.ready;
    const follower = openTab(storage, browser.tab(), { onPull: (_entity, items) => void got.push(...items) });
    await follower.ready;
    const batch = firstValueFrom(follower.pulled$.pipe(filter((b) => b.entity === 'todos')));
    const result = await follower.pull();
    expect(result).toMatchObject({ success: true, pulled: 1 });
    expect((await batch).items).toEqual([{ id: 'p', title: 'from the server' }]);
    expect(got).toContainEqual({ id: 'p', title: 'from the server' });
    expect(asked.sort()).toEqual(['notes', 'todos']);
    follower.destroy();
    leader.destroy();
  });

  it('a record pulled with a write of the follower pending on it reaches the follower shown with that write, marked pending', async () => {
    api.server.use(http.get(`${API}/:entity`, ({ params }) => HttpResponse.json(params.entity === 'todos' ? { items: [{ id: 'p', title: 'from the server' }], checkpoint: '1' } : { items: [] })));
    api.override((request) => (request.method === 'PATCH' ? HttpResponse.error() : undefined));
    const browser = new FakeBrowser();
    const storage = freshStorage();
    const leader = openTab(storage, browser.tab());
    await leader.ready;
    const follower = openTab(storage, browser.tab());
    await follower.ready;
    await follower.write({ entity: 'todos', operation: 'update', data: { id: 'p', done: true } });
    const batch = firstValueFrom(follower.pulled$.pipe(filter((b) => b.entity === 'todos')));
    await follower.pull();
    expect(await batch).toMatchObject({ items: [{ id: 'p', title: 'from the server', done: true }], pending: ['p'] });
    follower.destroy();
    leader.destroy();
  });

  it('when the leading tab closes, the next one leads: it loads the outbox and sends every write once, those it had forwarded too', async () => {
    const browser = new FakeBrowser();
    const storage = freshStorage();
    const firstTab = browser.tab();
    const first = openTab(storage, firstTab, { startOnline: false });
    await first.ready;
    const second = openTab(storage, browser.tab(), { startOnline: false });
    const third = openTab(storage, browser.tab(), { startOnline: false });
    await Promise.all([second.ready, third.ready]);
    await first.write({ entity: 'todos', operation: 'create', data: { id: 'a' } });
    await second.write({ entity: 'todos', operation: 'create', data: { id: 'b' } });

    // The leader's tab is closed; the next write of the third tab goes out before anyone leads.
    firstTab.kill();
    const late = third.write({ entity: 'todos', operation: 'update', data: { id: 'b', title: 'later' } });
    await statusOf(second, (s) => s.leader === true);
    await late;
    // Loaded writes may have been on the wire before the crash, so the update queues behind b rather than merging into it.
    await firstValueFrom(third.queue$.pipe(filter((queue) => queue.length === 3)));
    second.network.next(true);
    await drained(second);
    expect(api.records.get('todos/a')).toEqual({ id: 'a' });
    expect(api.records.get('todos/b')).toEqual({ id: 'b', title: 'later' });
    expect([...api.applied.values()]).toEqual([1, 1, 1]);
    await statusOf(third, (s) => s.status === 'idle' && s.leader === false);
    second.destroy();
    third.destroy();
    first.destroy();
  });

  it('a frozen leader: a follower whose request goes unacknowledged takes the lead; the old leader, still frozen, cannot write the log, and its write reaches the new leader once it thaws', async () => {
    const browser = new FakeBrowser();
    const storage = freshStorage();
    const frozenTab = browser.tab(20);
    const old = openTab(storage, frozenTab, { startOnline: false });
    await old.ready;
    await old.write({ entity: 'todos', operation: 'create', data: { id: 'before' } });
    const next = openTab(storage, browser.tab(20), { startOnline: false });
    await next.ready;

    frozenTab.freeze();
    // Nobody acknowledges, even when asked again: this tab takes the lock from the frozen one.
    await next.write({ entity: 'todos', operation: 'create', data: { id: 'during' } });
    expect(next.getStatus().leader).toBe(true);
    expect(ids(await firstValueFrom(next.queue$))).toEqual(['before', 'during']);

    // The old leader's code runs on (it has not heard of the theft): the epoch fence refuses its log write.
    const woken = old.write({ entity: 'todos', operation: 'create', data: { id: 'woken' } });
    const refused = await firstValueFrom(old.events$.pipe(filter((e) => e.type === 'storage-error')));
    expect(refused).toMatchObject({ error: expect.stringMatching(/^\[rxsync\] Another tab took over this outbox/) });
    expect(next.pendingFor('todos', 'woken')).toEqual([]);

    // Thawed, it follows, and its write is queued by the new leader, once.
    frozenTab.thaw();
    await woken;
    expect(ids(await firstValueFrom(next.queue$.pipe(filter((q) => q.length === 3))))).toEqual(['before', 'during', 'woken']);
    await statusOf(old, (s) => s.leader === false && s.queueLength === 3);

    // What is in storage is what the new leader holds: a reload finds exactly these three.
    next.destroy();
    old.destroy();
    const reloaded = openTab(storage, browser.tab(), { startOnline: false });
    await reloaded.ready;
    expect(ids(await firstValueFrom(reloaded.queue$))).toEqual(['before', 'during', 'woken']);
    reloaded.network.next(true);
    await drained(reloaded);
    expect([...api.applied.values()]).toEqual([1, 1, 1]);
    reloaded.destroy();
  });

  it('a bad tabs option is an [rxsync] error at construction', () => {
    expect(() => testEngine({ tabs: 5 as never })).toThrow(SyncOptionsError);
    expect(() => testEngine({ tabs: { takeoverMs: -1 } })).toThrow(/options\.tabs\.takeoverMs/);
    expect(() => testEngine({ tabs: { locks: {} as never } })).toThrow(/navigator\.locks/);
  });
});
