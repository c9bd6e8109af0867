/**
 * The engine in virtual time: its `scheduler` option times the backoff, a transport made of
 * cold marbles times the server, a hot marble is `online$`, so every instant below is exact.
 *
 * rxjs-marbles' `marbles()` is not used here: it runs `TestScheduler.run`, which flushes all of
 * virtual time synchronously, while the engine awaits its (Promise-based) storage between
 * steps. `VirtualTime` moves a TestScheduler one due action at a time and lets the Promises
 * settle at each instant instead; the expectations are marble strings all the same.
 */
import { defer, map, type Observable, Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  createSyncEngine,
  memoryStorage,
  type SyncEngineOptions,
  type SyncStatusInfo,
  type SyncTransport,
  type SyncWrite,
  type TransportResponse,
} from '../src/index.js';
import { VirtualTime } from './support/virtualTime.js';

type Entity = 'todos';

/** The server's answers, by letter: `k` delivered, `r` busy (503), `R` busy with `Retry-After: 250 ms`, `c` a conflict. */
const answers: Record<string, TransportResponse> = {
  k: { status: 201, body: undefined },
  r: { status: 503, body: undefined },
  R: { status: 503, body: undefined, retryAfterMs: 250 },
  c: { status: 409, body: { id: 'b', title: 'server' } },
};

/** A status in a few characters: state, queued, in flight, dead letters, the next retry (virtual ms), and whether lastError and lastSyncAt are set. */
const label = (s: SyncStatusInfo) =>
  `${s.status} q${s.queueLength} f${s.inFlight} x${s.failedCount}${s.nextRetryAt ? ` retry@${Date.parse(s.nextRetryAt)}` : ''}${s.lastError ? ' error' : ''}${s.lastSyncAt ? ' synced' : ''}`;

const create = (id: string, fields: object = {}): SyncWrite<Entity> => ({ entity: 'todos', operation: 'create', data: { id, ...fields } });
const update = (id: string, fields: object): SyncWrite<Entity> => ({ entity: 'todos', operation: 'update', data: { id, ...fields } });

/**
 * An engine on memory storage whose server answers each record's pushes with the next marble
 * of `script[recordId]`; `sent` records every request as it goes out (the record's id, or its
 * id and data with `showData`), `status` every status.
 */
function virtualEngine(vt: VirtualTime, script: Record<string, string[]>, options: Partial<SyncEngineOptions<Entity>> & { showData?: boolean } = {}) {
  const requests = new Subject<string>();
  const transport: SyncTransport = {
    push: (request): Observable<TransportResponse> =>
      defer(() => {
        const data = request.item.data as { id: string };
        requests.next(options.showData ? `${data.id} ${JSON.stringify(data)}` : data.id);
        const next = script[data.id]?.shift();
        if (next === undefined) throw new Error(`the script has no answer left for record ${data.id}`);
        return vt.cold(next, answers);
      }),
    pull: () => vt.cold('|'),
  };
  const sent = vt.record(requests);
  const engine = createSyncEngine<Entity>({
    entities: { todos: { endpoint: '/todos', conflictStrategy: 'server-wins' } },
    transport,
    storage: memoryStorage(),
    online$: vt.hot('t', { t: true }),
    scheduler: vt.scheduler,
    retryBaseDelayMs: 100,
    retryJitter: 0,
    // Pulls of the engine's own would show in status$; these specs are about pushing.
    autoPull: false,
    ...options,
  });
  const status = vt.record(engine.status$.pipe(map(label)));
  return { engine, sent, status };
}

describe('the engine in virtual time', () => {
  it('offline → online: nothing is sent while offline; on reconnect the status is syncing before anything is in flight, then all is sent at once', async () => {
    const vt = new VirtualTime();
    const { engine, sent, status } = virtualEngine(vt, { a: ['10ms k|'], b: ['10ms k|'] }, { online$: vt.hot('f 99ms t', { f: false, t: true }) });
    void engine.write(create('a'));
    void engine.write(create('b'));
    await vt.advance(200);

    vt.expect(sent).toBe('100ms (ab)');
    vt.expect(status).toBe('(oq) 96ms (sf) 6ms (ri)', {
      o: 'offline q0 f0 x0',
      q: 'offline q2 f0 x0',
      s: 'syncing q2 f0 x0',
      f: 'syncing q2 f2 x0',
      r: 'syncing q1 f1 x0',
      i: 'idle q0 f0 x0',
    });
    engine.destroy();
  });

  it('whenOnline holds a burst that arrives offline: on reconnect one request per record, each write coalesced', async () => {
    const vt = new VirtualTime();
    const { engine, sent } = virtualEngine(vt, { a: ['5ms k|'], b: ['5ms k|'] }, { online$: vt.hot('f 49ms t', { f: false, t: true }), showData: true });
    vt.hot('a-b-c 20ms d', {
      a: create('a', { title: 'milk' }),
      b: update('a', { done: true }),
      c: create('b', { title: 'eggs' }),
      d: update('a', { title: 'oat milk' }),
    }).subscribe((write) => engine.writes$.next(write));
    await vt.advance(100);

    // Records go in the order their last change became durable; each record's writes are one request.
    vt.expect(sent).toBe('50ms (ba)', {
      a: 'a {"id":"a","title":"oat milk","done":true}',
      b: 'b {"id":"b","title":"eggs"}',
    });
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });

  it.each([
    { backoff: 'Retry-After is waited exactly (250 ms), not the 100 ms base delay', script: ['10ms R|', '10ms k|'], requests: 'a 259ms a', retryAt: 260 },
    { backoff: 'without Retry-After the waits double: 100 ms, then 200 ms', script: ['10ms r|', '10ms r|', '10ms k|'], requests: 'a 109ms a 209ms a', retryAt: 110 },
  ])('backoff timing: $backoff', async ({ script, requests, retryAt }) => {
    const vt = new VirtualTime();
    const { engine, sent, status } = virtualEngine(vt, { a: script });
    void engine.write(create('a'));
    await vt.advance(1000);

    vt.expect(sent).toBe(requests);
    // The first failure (at 10 ms) shows when the retry is due.
    expect(status).toContainEqual({ frame: 10, notification: { kind: 'N', value: `syncing q1 f1 x0 retry@${retryAt}`, error: undefined } });
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });

  it('nextRetryAt is the earliest retry waiting, whichever was scheduled first: b\'s at 260 ms, then a\'s at 120 ms, shows 120 ms until a is delivered', async () => {
    const vt = new VirtualTime();
    const { engine, sent, status } = virtualEngine(vt, { a: ['20ms r|', '10ms k|'], b: ['10ms R|', '10ms k|'] });
    void engine.write(create('a'));
    void engine.write(create('b'));
    await vt.advance(1000);

    vt.expect(sent).toBe('(ab) 116ms a 139ms b');
    // b fails at 10 ms, a at 20 ms; a is delivered at 130 ms.
    const lastAt = (at: number) => status.flatMap(({ frame, notification }) => (frame === at && notification.kind === 'N' ? [notification.value] : [])).at(-1);
    expect(lastAt(10)).toBe('syncing q2 f2 x0 retry@260 error');
    expect(lastAt(20)).toBe('syncing q2 f2 x0 retry@120 error');
    expect(lastAt(130)).toBe('syncing q1 f1 x0 retry@260');
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });

  it('nextRetryAt is the earliest retry waiting, whichever was scheduled last: a\'s at 110 ms before b\'s at 260 ms, then b\'s', async () => {
    const vt = new VirtualTime();
    const { engine, sent, status } = virtualEngine(vt, { a: ['10ms r|', '10ms k|'], b: ['10ms R|', '10ms k|'] });
    void engine.write(create('a'));
    void engine.write(create('b'));
    await vt.advance(1000);

    vt.expect(sent).toBe('(ab) 106ms a 149ms b');
    const lastAt = (at: number) => status.flatMap(({ frame, notification }) => (frame === at && notification.kind === 'N' ? [notification.value] : [])).at(-1);
    expect(lastAt(10)).toBe('syncing q2 f2 x0 retry@110 error');
    expect(lastAt(120)).toBe('syncing q1 f1 x0 retry@260');
    engine.destroy();
  });

  it('a reconnect cuts a backoff wait short: the retry due at 110 ms goes out when the network is back at 50 ms', async () => {
    const vt = new VirtualTime();
    const { engine, sent } = virtualEngine(vt, { a: ['10ms r|', '10ms k|'] }, { online$: vt.hot('t 19ms f 29ms t', { f: false, t: true }) });
    void engine.write(create('a'));
    await vt.advance(1000);

    vt.expect(sent).toBe('a 49ms a');
    engine.destroy();
  });

  it('a request with no answer is aborted after requestTimeoutMs and sent again after the backoff', async () => {
    const vt = new VirtualTime();
    // The first request hangs for ever ('-'); the second is answered.
    const { engine, sent } = virtualEngine(vt, { a: ['-', '10ms k|'] }, { requestTimeoutMs: 500 });
    void engine.write(create('a'));
    await vt.advance(2000);

    vt.expect(sent).toBe('a 599ms a');
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });

  // Going offline does not abort a request under way: an aborted request can still reach the
  // server later, after the item was decided another way (found by the soak: a client-wins PUT,
  // then the aborted POST landing after a delete and creating the record again).
  it('going offline lets a request under way finish; nothing new is sent until the network is back', async () => {
    const vt = new VirtualTime();
    const { engine, sent } = virtualEngine(vt, { a: ['50ms k|'], b: ['10ms k|'] }, { online$: vt.hot('t 19ms f 59ms t', { f: false, t: true }) });
    void engine.write(create('a'));
    await vt.advance(30);
    void engine.write(create('b'));
    await vt.advance(1000);

    vt.expect(sent).toBe('a 79ms b');
    expect(engine.getStatus()).toMatchObject({ status: 'idle', queueLength: 0 });
    engine.destroy();
  });

  it('status$ of a flush with a retry and a conflict, and what flush() resolves with', async () => {
    const vt = new VirtualTime();
    const pulled: unknown[] = [];
    const { engine, sent, status } = virtualEngine(
      vt,
      { a: ['10ms R|', '10ms k|'], b: ['20ms c|'] },
      { online$: vt.hot('f 9ms t', { f: false, t: true }), onPull: (_entity, items) => void pulled.push(...items) },
    );
    void engine.write(create('a'));
    void engine.write(create('b', { title: 'mine' }));
    const conflicts = vt.record(engine.conflicts$.pipe(map(({ localItem, resolution }) => `${(localItem.data as { id: string }).id} ${resolution.outcome}`)));
    // Offline, flush() would resolve at once with success: false: it is called once online.
    await vt.advance(10);
    const flushed = engine.flush();
    await vt.advance(1000);

    // a: sent at 10, 503 with Retry-After at 20, sent again at 270, delivered at 280.
    // b: sent at 10, 409 at 30: the server's record wins and is handed to onPull.
    vt.expect(sent).toBe('10ms (ab) 256ms a');
    vt.expect(conflicts).toBe('30ms c', { c: 'b server-wins' });
    // At 20 the retry is scheduled, then the 503 shows as lastError; b's delivery at 30 clears it.
    // At 280 the last delivery empties the queue, then flush() completes: lastSyncAt.
    vt.expect(status).toBe('(oq) 6ms (sf) 6ms (re) 6ms (rx) 236ms t 9ms (id)', {
      o: 'offline q0 f0 x0',
      q: 'offline q2 f0 x0',
      s: 'syncing q2 f0 x0',
      f: 'syncing q2 f2 x0',
      r: 'syncing q2 f2 x0 retry@270',
      e: 'syncing q2 f2 x0 retry@270 error',
      x: 'syncing q1 f1 x0 retry@270',
      t: 'syncing q1 f1 x0',
      i: 'idle q0 f0 x0',
      d: 'idle q0 f0 x0 synced',
    });
    expect(pulled).toEqual([{ id: 'b', title: 'server' }]);
    expect(await flushed).toMatchObject({ success: true, pushed: 2, conflicts: 1, errors: 0, timestamp: new Date(280).toISOString() });
    engine.destroy();
  });
});
