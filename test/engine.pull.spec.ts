import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http, HttpResponse } from 'msw';
import { freshStorage, testEngine } from './support/engineHarness.js';
import { API, restApi } from './support/restApi.js';

const api = restApi();
beforeAll(() => api.server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => api.reset());
afterAll(() => api.server.close());

/** `pages[since ?? '']` answers a pull; every GET is recorded as `entity?since`. */
function serve(pages: Record<string, Record<string, unknown> | number>) {
  const asked: string[] = [];
  api.server.use(
    http.get(`${API}/:entity`, ({ request, params }) => {
      const since = new URL(request.url).searchParams.get('since');
      asked.push(`${String(params.entity)}?${since ?? ''}`);
      const page = pages[`${String(params.entity)}?${since ?? ''}`] ?? { items: [] };
      return typeof page === 'number' ? HttpResponse.json({ error: 'down' }, { status: page }) : HttpResponse.json(page);
    }),
  );
  return asked;
}

describe('engine: pull', () => {
  it('follows hasMore pages, hands each batch to onPull and pulled$, and keeps a checkpoint per entity', async () => {
    const asked = serve({
      'todos?': { items: [{ id: '1' }, { id: '2' }], checkpoint: 'c2', hasMore: true },
      'todos?c2': { items: [{ id: '3' }], checkpoint: 'c3', hasMore: false },
      'notes?': { items: [{ id: 'n1' }], checkpoint: 'n1' },
    });
    const applied: [string, unknown[]][] = [];
    const engine = testEngine({ onPull: (entity, items) => void applied.push([entity, items]) });
    const batches: string[] = [];
    engine.pulled$.subscribe(({ entity, items }) => batches.push(`${entity}:${items.length}`));
    const result = await engine.pull();
    expect(result).toMatchObject({ success: true, pulled: 4, errors: 0 });
    expect(applied).toEqual(expect.arrayContaining([['todos', [{ id: '1' }, { id: '2' }]], ['todos', [{ id: '3' }]], ['notes', [{ id: 'n1' }]]]));
    expect(batches.sort()).toEqual(['notes:1', 'todos:1', 'todos:2']);
    await engine.pull();
    expect(asked.sort()).toEqual(['notes?', 'notes?n1', 'todos?', 'todos?c2', 'todos?c3']);
    engine.destroy();
  });

  it('persists the checkpoint only after onPull resolved; a new engine on the same storage goes on from it', async () => {
    const asked = serve({ 'todos?': { items: [{ id: '1' }], checkpoint: 'c1' } });
    const storage = freshStorage();
    let finish!: () => void;
    let called!: () => void;
    const slow = new Promise<void>((resolve) => (finish = resolve));
    const onPullCalled = new Promise<void>((resolve) => (called = resolve));
    const engine = testEngine({
      storage,
      onPull: (entity) => {
        if (entity !== 'todos') return;
        called();
        return slow;
      },
    });
    const pulling = engine.pull();
    await onPullCalled;
    expect(await storage.getItem('rxsync:checkpoint:todos')).toBeNull();
    finish();
    await pulling;
    expect(await storage.getItem('rxsync:checkpoint:todos')).toBe('c1');
    engine.destroy();
    const again = testEngine({ storage });
    await again.pull();
    expect(asked.filter((a) => a.startsWith('todos'))).toEqual(['todos?', 'todos?c1']);
    again.destroy();
  });

  it('a failed entity pull does not advance its checkpoint and counts in errors; others go on', async () => {
    const asked = serve({ 'todos?': 500, 'notes?': { items: [{ id: 'n' }], checkpoint: 'n1' } });
    const engine = testEngine();
    const result = await engine.pull();
    expect(result).toMatchObject({ success: false, pulled: 1, errors: 1 });
    expect(engine.seen.find((e) => e.type === 'pull-failed')).toMatchObject({ entity: 'todos', error: expect.stringMatching(/^\[rxsync\] Pulling "todos" failed: GET .* answered 500/) });
    await engine.pull();
    expect(asked.filter((a) => a.startsWith('todos'))).toEqual(['todos?', 'todos?']);
    engine.destroy();
  });

  it('an onPull that throws keeps the checkpoint where it was and is reported', async () => {
    const asked = serve({ 'todos?': { items: [{ id: '1' }], checkpoint: 'c1' } });
    let fail = true;
    const engine = testEngine({
      onPull: (entity) => {
        if (fail && entity === 'todos') throw new Error('local db locked');
      },
    });
    expect(await engine.pull()).toMatchObject({ success: false, errors: 1 });
    expect(engine.seen.find((e) => e.type === 'callback-error')).toMatchObject({ callback: 'onPull', error: '[rxsync] onPull threw: local db locked' });
    fail = false;
    expect(await engine.pull()).toMatchObject({ success: true, pulled: 1 });
    expect(asked.filter((a) => a.startsWith('todos'))).toEqual(['todos?', 'todos?']);
    engine.destroy();
  });

  it('a server answering garbage gets a clear error, not a crash', async () => {
    api.server.use(http.get(`${API}/:entity`, () => HttpResponse.text('<html>oops</html>')));
    const engine = testEngine();
    const result = await engine.pull();
    expect(result).toMatchObject({ success: false, errors: 2 });
    expect(engine.getStatus().lastError).toMatch(/^\[rxsync\] Pulling ".*": GET .* answered 200 with a body that is not \{ items: \[\.\.\.\] \} \(got "<html>oops<\/html>"\)/);
    engine.destroy();
  });

  it('without a server checkpoint, no since is ever sent: the device clock is not a checkpoint', async () => {
    const asked = serve({ 'todos?': { items: [{ id: '1' }] } });
    const engine = testEngine({ now: () => Date.parse('2026-03-01T10:00:00.000Z') });
    expect(await engine.pull()).toMatchObject({ success: true, pulled: 1 });
    expect(await engine.pull()).toMatchObject({ success: true, pulled: 1 });
    expect(asked.filter((a) => a.startsWith('todos'))).toEqual(['todos?', 'todos?']);
    engine.destroy();
  });

  it('a server that says hasMore without moving its checkpoint fails that entity\'s pull instead of looping', async () => {
    const asked = serve({ 'todos?': { items: [{ id: '1' }], checkpoint: 'c1', hasMore: true }, 'todos?c1': { items: [{ id: '1' }], checkpoint: 'c1', hasMore: true } });
    const engine = testEngine();
    const result = await engine.pull();
    expect(result).toMatchObject({ success: false, errors: 1 });
    expect(asked.filter((a) => a.startsWith('todos'))).toEqual(['todos?', 'todos?c1']);
    expect(engine.seen.find((e) => e.type === 'pull-failed')).toMatchObject({
      entity: 'todos',
      error: expect.stringMatching(/hasMore but did not move the checkpoint \(still "c1"\).*stopped pulling "todos"/),
    });
    expect(engine.getStatus().status).not.toBe('syncing');
    engine.destroy();
  });

  it('fullSync() flushes, then pulls; offline it reports failure and status offline', async () => {
    serve({ 'todos?': { items: [{ id: 'r' }], checkpoint: 'c' } });
    const engine = testEngine({ startOnline: false });
    await engine.write({ entity: 'todos', operation: 'create', data: { id: 'l' } });
    expect(await engine.fullSync()).toMatchObject({ success: false, pushed: 0, pulled: 0 });
    expect(engine.getStatus().status).toBe('offline');
    engine.network.next(true);
    const result = await engine.fullSync();
    expect(result).toMatchObject({ success: true, pushed: 1, pulled: 1, conflicts: 0, errors: 0 });
    expect(engine.getStatus()).toMatchObject({ status: 'idle', lastSyncAt: result.timestamp });
    expect(engine.seen.filter((e) => e.type === 'sync-complete').length).toBeGreaterThan(0);
    engine.destroy();
  });
});
