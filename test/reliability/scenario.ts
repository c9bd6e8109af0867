/**
 * The command model of the reliability suite: random scenarios of writes, connectivity,
 * engine actions, pulls, crashes/restarts and injected server/storage/app faults, run
 * against the real engine and its real `httpTransport`, talking over msw to a
 * {@link SimulatedServer}, all in virtual time ({@link VirtualClock}): a scenario does the
 * same thing on every run, so any failure replays exactly.
 *
 * Every write carries a unique marker (its number `n`: field `f{n}` on creates/updates,
 * `del` on deletes), so the server's log tells exactly which writes arrived, in which
 * order and how often, however the outbox coalesced them. The model also holds the app's
 * copy of the pulled records, and judges every dead letter by what the server answered.
 */
import fc from 'fast-check';
import { BehaviorSubject, filter, firstValueFrom, type Subscription } from 'rxjs';
import { createSyncEngine } from '../../src/index.js';
import type { ConflictStrategy, SyncEngine, SyncItem, SyncOperation } from '../../src/index.js';
import { AppView } from './appView.js';
import { FaultyStorage, storageDevice } from './faultyStorage.js';
import { FAULT_KINDS, type FaultKind, markersOf, overHttp, POISON_ID, SimulatedServer } from './simulatedServer.js';
import { Stuck, VirtualClock } from './virtualClock.js';

export const RECORDS = ['a', 'b', 'c', POISON_ID] as const;
export type RecordId = (typeof RECORDS)[number];

export type Command =
  | { k: 'write'; rec: RecordId; op: SyncOperation }
  | { k: 'online'; on: boolean }
  | { k: 'flush' }
  | { k: 'pull' }
  | { k: 'fullSync' }
  | { k: 'clear' }
  | { k: 'reprocess' }
  /** destroy() and start a new engine on the same storage; `crash`: storage dies after `after` more mutations. */
  | { k: 'restart'; crash: boolean; after: number }
  | { k: 'tick'; ms: number }
  | { k: 'fault'; kind: FaultKind; n: number }
  | { k: 'storageFail'; n: number }
  /** The app's onPull rejects the next `n` pages. */
  | { k: 'pullFail'; n: number }
  | { k: 'remoteEdit'; rec: RecordId };

export interface Scenario {
  strategy: Extract<ConflictStrategy, 'server-wins' | 'client-wins'>;
  startOnline: boolean;
  commands: Command[];
}

export interface ScenarioStats {
  commands: number;
  writes: number;
  resolved: number;
  rejected: number;
  uncertain: number;
  restarts: number;
  crashes: number;
  faults: Record<string, number>;
  lost: number;
  doubled: number;
  reordered: number;
  stuck: number;
  /** Dead letters the server's answers do not justify. */
  unjustified: number;
  /** The queue did not empty by itself once online with a healthy server. */
  undrained: number;
  /** Pulls that skipped a change, or left the app's copy unlike the server's. */
  missedPulls: number;
  /** Breaches of the wire protocol (keys, headers). */
  wire: number;
}

export interface ScenarioReport {
  violations: string[];
  stats: ScenarioStats;
  /** What the server applied, for debugging a failure. */
  serverLog: SimulatedServer['log'];
  writes: readonly WriteRecord[];
  /** Timers still scheduled once every engine was destroyed and the server idle. */
  timersLeft: number;
  /** HTTP requests the server received. */
  requests: number;
}

// ── arbitraries ─────────────────────────────────────────────────────────────────────────

const recordArb = fc.constantFrom<RecordId>('a', 'a', 'b', 'b', 'c', POISON_ID);

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ k: fc.constant('write' as const), rec: recordArb, op: fc.constantFrom<SyncOperation>('create', 'update', 'update', 'delete') }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('online' as const), on: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ k: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'pull' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'fullSync' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reprocess' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('restart' as const), crash: fc.boolean(), after: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('fault' as const), kind: fc.constantFrom(...FAULT_KINDS), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('storageFail' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pullFail' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remoteEdit' as const), rec: recordArb }) },
);

export const scenarioArb = (maxCommands = 25): fc.Arbitrary<Scenario> =>
  fc.record({
    strategy: fc.constantFrom<Scenario['strategy']>('server-wins', 'client-wins'),
    startOnline: fc.boolean(),
    commands: fc.array(commandArb, { minLength: 3, maxLength: maxCommands, size: 'max' }),
  });

// ── running ─────────────────────────────────────────────────────────────────────────────

interface WriteRecord {
  n: number;
  rec: RecordId;
  op: SyncOperation;
  data: Record<string, unknown>;
  state: 'pending' | 'resolved' | 'rejected';
  /** Issued before a clearQueue(): may or may not have reached the server. */
  clearable: boolean;
}

const MAX_RETRIES = 3;
/** Virtual time the engine gets to empty its queue by itself once online with a healthy server and storage. */
const SELF_DRAIN_BUDGET_MS = 2000;

/** A record as the app holds it from pulls (and from server-wins conflicts, which hand on the remote record). */
interface Pulled {
  id: string;
  version: number;
  deleted?: boolean;
}

export async function runScenario(scenario: Scenario): Promise<ScenarioReport> {
  const clock = new VirtualClock();
  try {
    return await run(scenario, clock);
  } finally {
    clock.uninstall();
  }
}

async function run(scenario: Scenario, clock: VirtualClock): Promise<ScenarioReport> {
  const violations: string[] = [];
  const device = storageDevice();
  /** Every item any engine queued, by id: a DELETE has no body, so the server asks here which writes it carries. */
  const queuedData = new Map<string, unknown>();
  const server = new SimulatedServer((key) => markersOf(queuedData.get(key.replace(/:put$/, ''))));
  const online$ = new BehaviorSubject(scenario.startOnline);
  /** The app's copy of the server's records, from onPull. */
  const replica = new Map<string, Pulled>();
  /** What the user sees: every record onPull hands over, pending local edits included. */
  const appView = new AppView();
  let pullFailures = 0;
  /**
   * Transient answers (503, 429: a network error counts for nothing, the engine retries it for as
   * long as it runs) an item had when it last left the dead-letter list: reprocessFailed() starts
   * its count afresh.
   */
  const spentTransients = new Map<string, number>();
  const answersOf = (id: string) => [...(server.answers.get(id) ?? []), ...(server.answers.get(`${id}:put`) ?? [])];
  const transientsOf = (id: string) => answersOf(id).filter((a) => a === 'transient').length;
  /**
   * The app has the server's current version of a record: by version, or (read-your-writes hands
   * answers and tombstones without one) by showing the same fields, or shows it with pending
   * edits on top (the engine gives the version behind them back should they fail).
   */
  const appHolds = (r: { id: string; version: number }): boolean =>
    replica.get(r.id)?.version === r.version || appView.shows(r.id, server.record(r.id)) || appView.isPending(r.id);
  server.onPullRequest = (since) => {
    // A pull from checkpoint C promises the app has applied every change up to C.
    const upTo = since === undefined ? 0 : Number(since);
    for (const r of server.versions()) {
      if (r.changedAt > 0 && r.changedAt <= upTo && !appHolds(r)) {
        stats.missedPulls++;
        violations.push(`pull skipped a change: GET since=${since}, but the app never got version ${r.version} of "${r.id}" (change #${r.changedAt})`);
      }
    }
  };
  const tick = (ms: number): Promise<void> => clock.advance(ms);
  const guard = <T>(promise: Promise<T>, what: string, budgetMs?: number): Promise<T> => clock.until(promise, what, budgetMs);
  const writes: WriteRecord[] = [];
  /** Records whose writes were refused by storage only after the app had made later writes on them. */
  const ambiguous = new Set<string>();
  const serverWinsMarkers = new Set<number>();
  const everDeadMarkers = new Set<number>();
  const remotelyEdited = new Set<string>();
  const stats: ScenarioStats = {
    commands: scenario.commands.length, writes: 0, resolved: 0, rejected: 0, uncertain: 0, restarts: 0, crashes: 0,
    faults: {}, lost: 0, doubled: 0, reordered: 0, stuck: 0, unjustified: 0, undrained: 0, missedPulls: 0, wire: 0,
  };
  let storageFailuresInjected = 0;
  let cleared = false;

  let engine!: SyncEngine<'todos'>;
  let storage!: FaultyStorage;
  let generation = 0;
  let destroyedUpTo = 0;
  let lastFailed: readonly SyncItem[] = [];
  const lastFailedOf = new Map<number, readonly SyncItem[]>();
  let tracked: Promise<unknown>[] = [];
  let ids = 0;
  const subscriptions: Subscription[] = [];

  /** A new engine: after a crash on a fresh view of the device, after a clean destroy() on the same storage object. */
  const start = (reuseStorage = false): void => {
    generation++;
    const gen = generation;
    if (!reuseStorage) storage = new FaultyStorage(device);
    engine = createSyncEngine({
      entities: { todos: { endpoint: '/todos', conflictStrategy: scenario.strategy } },
      transport: overHttp(server, gen),
      storage,
      online$,
      maxRetries: MAX_RETRIES,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 10,
      retryJitter: 0,
      concurrency: 2,
      createId: () => `w${gen}.${++ids}`,
      onPull: async (_entity, items, info) => {
        if (pullFailures > 0) {
          pullFailures--;
          throw new Error('the app could not store the pulled records (injected)');
        }
        appView.take(items, info);
        for (const item of items as Pulled[]) {
          // Like any app: a record older than the copy it holds does not replace it.
          if ((replica.get(item.id)?.version ?? -1) <= item.version) replica.set(item.id, item);
        }
      },
    });
    tracked = [];
    const current = engine;
    subscriptions.push(
      current.failed$.subscribe((failed) => {
        for (const left of lastFailedOf.get(gen) ?? []) if (!failed.some((f) => f.id === left.id)) spentTransients.set(left.id, transientsOf(left.id));
        lastFailedOf.set(gen, failed);
        if (gen === generation) lastFailed = failed;
        for (const item of failed) for (const m of markersOf(item.data)) everDeadMarkers.add(m);
      }),
      current.queue$.subscribe((queue) => {
        for (const item of queue) queuedData.set(item.id, item.data);
      }),
      current.events$.subscribe((event) => {
        if (event.type !== 'dead-lettered') return;
        const id = event.item.id;
        const answers = answersOf(id);
        // An item dead-lettered before a crash that did not make it durable comes back with its retry count: still justified.
        const transients = transientsOf(id) - (spentTransients.get(id) ?? 0);
        const justified = answers.includes('permanent') || (server.answers.get(`${id}:put`) ?? []).includes('conflict') || transients > MAX_RETRIES;
        if (!justified) {
          stats.unjustified++;
          violations.push(`dead letter without cause: ${id} (${JSON.stringify(event.item.data)}) after answers ${JSON.stringify(answers)}: ${event.error}`);
        }
      }),
      current.conflicts$.subscribe((conflict) => {
        if (conflict.resolution.outcome === 'server-wins') for (const m of markersOf(conflict.localItem.data)) serverWinsMarkers.add(m);
      }),
      current.status$.subscribe((s) => {
        const where = `status ${JSON.stringify(s)} (engine #${gen})`;
        if (s.queueLength !== current.getQueueLength()) violations.push(`${where}: queueLength but getQueueLength() = ${current.getQueueLength()}`);
        if (gen === generation && s.failedCount !== lastFailed.length) violations.push(`${where}: failedCount but failed$ holds ${lastFailed.length}`);
        if (s.inFlight > s.queueLength) violations.push(`${where}: more in flight than queued`);
        if (s.online !== (s.status !== 'offline')) violations.push(`${where}: online and status disagree`);
        if (s.status === 'idle' && (s.queueLength > 0 || s.failedCount > 0)) violations.push(`${where}: idle with work left`);
        if (s.status === 'error' && (s.queueLength > 0 || s.failedCount === 0)) violations.push(`${where}: error without dead letters`);
      }),
    );
  };

  const track = (promise: Promise<unknown>, what: string, mayRejectWithStorageError: boolean): void => {
    const gen = generation;
    const watched = promise.catch((error: unknown) => {
      const name = (error as Error | undefined)?.name;
      // A clear/requeue still waiting for the stored queue to load when destroy() came is refused.
      const destroyedFirst = mayRejectWithStorageError && name === 'SyncInputError' && gen <= destroyedUpTo;
      if (!destroyedFirst && !(mayRejectWithStorageError && name === 'SyncStorageError' && storageFailuresInjected > 0)) {
        violations.push(`${what} rejected: ${String(error)}`);
      }
    });
    tracked.push(watched);
  };

  start();

  try {
    for (const command of scenario.commands) {
      switch (command.k) {
        case 'write': {
          const n = writes.length + 1;
          // What the app believes: its last write of the record that storage did not refuse.
          const last = writes.findLast((w) => w.rec === command.rec && w.state !== 'rejected');
          const known = last !== undefined && last.op !== 'delete';
          // Writes a client would make: create what it thinks is absent, update/delete what it thinks is there.
          const op: SyncOperation = known ? (command.op === 'create' ? 'update' : command.op) : 'create';
          const data = op === 'delete' ? { id: command.rec, del: n } : { id: command.rec, [`f${n}`]: n, last: n };
          const write: WriteRecord = { n, rec: command.rec, op, data, state: 'pending', clearable: false };
          writes.push(write);
          engine.write({ entity: 'todos', operation: op, data }).then(
            () => {
              write.state = 'resolved';
            },
            (error: unknown) => {
              write.state = 'rejected';
              if (writes.some((w) => w.rec === write.rec && w.n > write.n)) ambiguous.add(write.rec);
              const name = (error as Error).name;
              const fine = (name === 'SyncStorageError' && storageFailuresInjected > 0) || name === 'SyncInputError';
              if (!fine) violations.push(`write #${n} rejected unexpectedly: ${String(error)}`);
            },
          );
          break;
        }
        case 'online':
          online$.next(command.on);
          break;
        case 'flush':
          track(engine.flush(), 'flush()', false);
          break;
        case 'pull':
          track(engine.pull(), 'pull()', false);
          break;
        case 'fullSync':
          track(engine.fullSync(), 'fullSync()', false);
          break;
        case 'clear':
          cleared = true;
          for (const write of writes) write.clearable = true;
          track(engine.clearQueue(), 'clearQueue()', true);
          break;
        case 'reprocess':
          track(engine.reprocessFailed(), 'reprocessFailed()', true);
          break;
        case 'restart': {
          stats.restarts++;
          if (command.crash) {
            stats.crashes++;
            storage.crashAfterMutations(command.after);
            if (command.after > 0) await tick(1);
            storage.freeze();
            destroyedUpTo = generation;
            engine.destroy();
          } else {
            destroyedUpTo = generation;
            engine.destroy();
            // destroy() and a new engine at once, on the same storage: what the old one was still
            // writing must reach the new one (regression: write() resolved, yet the write was lost).
            start(true);
            break;
          }
          start();
          break;
        }
        case 'tick':
          await tick(command.ms);
          break;
        case 'fault':
          for (let i = 0; i < command.n; i++) server.faults.push(command.kind);
          break;
        case 'storageFail':
          storageFailuresInjected += command.n;
          storage.failNextSetItems += command.n;
          break;
        case 'pullFail':
          pullFailures += command.n;
          break;
        case 'remoteEdit':
          if (server.remoteEdit(command.rec)) remotelyEdited.add(command.rec);
          break;
      }
    }

    // ── settle: online, healthy server and storage; the engine must empty its queue by itself ──
    server.clearFaults();
    storage.failNextSetItems = 0;
    pullFailures = 0;
    online$.next(true);
    await guard(engine.ready, 'engine.ready');
    try {
      const drained = firstValueFrom(engine.status$.pipe(filter((s) => s.queueLength === 0 && s.inFlight === 0)));
      await guard(drained, 'the queue emptying by itself once online', SELF_DRAIN_BUDGET_MS);
    } catch (error) {
      if (!(error instanceof Stuck)) throw error;
      stats.undrained++;
      violations.push(`not drained by itself: ${error.message}; status ${JSON.stringify(engine.getStatus())}`);
    }
    // Then flush by hand until only dead letters remain, so the checks below still see where every write went.
    for (let i = 0; i < 40 && engine.getQueueLength() > 0; i++) {
      await guard(engine.flush(), 'flush() while settling');
      if (engine.getQueueLength() > 0) await guard(server.idle(), 'the server');
    }
    await guard(server.idle(), 'the server');
    await guard(Promise.all(tracked), 'the scenario\'s flush/pull/clear promises');
    await guard(firstValueFrom(engine.status$.pipe(filter((s) => s.status !== 'syncing'))), 'status leaving syncing');
    await guard(storage.idle(), 'storage');
    // A last pull must leave the app holding exactly what the server holds.
    const pulled = await guard(engine.pull(), 'the final pull');
    if (!pulled.success) violations.push(`the final pull failed: ${JSON.stringify(pulled)} (${engine.getStatus().lastError})`);
    for (const r of server.versions()) {
      if (r.changedAt > 0 && !appHolds(r)) {
        stats.missedPulls++;
        violations.push(`after the final pull the app holds version ${replica.get(r.id)?.version} of "${r.id}", the server ${r.version}`);
      }
    }
    violations.push(...appView.differences([...new Set([...server.versions().map((r) => r.id), ...appView.ids()])], (id) => server.record(id)));
  } catch (error) {
    if (!(error instanceof Stuck)) throw error;
    stats.stuck++;
    violations.push(`stuck: ${error.message}; queue ${JSON.stringify(engine.getStatus())}`);
  }

  // ── checks ──────────────────────────────────────────────────────────────────────────
  const status = engine.getStatus();
  if (engine.getQueueLength() > 0) {
    if (stats.stuck === 0) stats.stuck++;
    violations.push(`stuck: ${engine.getQueueLength()} item(s) left in the queue while online and healthy`);
  }
  if (status.failedCount !== lastFailed.length) violations.push(`final status failedCount ${status.failedCount} but failed$ holds ${lastFailed.length}`);
  const expectedState = lastFailed.length > 0 ? 'error' : 'idle';
  if (status.status !== expectedState || status.queueLength !== 0) violations.push(`final status ${JSON.stringify(status)}, expected ${expectedState} with an empty queue`);

  const applied = server.log.filter((op) => !op.noop);
  const arrived = new Set(server.log.flatMap((op) => op.markers));
  const count = new Map<number, number>();
  for (const op of applied) for (const m of op.markers) count.set(m, (count.get(m) ?? 0) + 1);
  for (const [m, times] of count) {
    if (times > 1) {
      stats.doubled++;
      violations.push(`doubled: write #${m} was applied ${times} times: ${JSON.stringify(applied.filter((op) => op.markers.includes(m)))}`);
    }
  }
  const failedMarkers = new Set(lastFailed.flatMap((item) => markersOf(item.data)));
  const byRecord = (rec: string) => writes.filter((w) => w.rec === rec);

  for (const rec of RECORDS) {
    const mine = byRecord(rec);
    // order: what arrived for a record arrived in write order (cleared and dead-lettered writes are exempt)
    // (a no-op, such as a late DELETE of a record already gone, changes nothing, so it cannot be out of order)
    const sequence = server.log.filter((op) => op.record === rec && !op.noop).flatMap((op) => op.markers).filter((m) => !everDeadMarkers.has(m) && !writes[m - 1]?.clearable)
      // a DELETE of a missing record (404) stores no answer, so a retry of it is evaluated (and logged) again
      .filter((m, i, all) => all.indexOf(m) === i);
    for (let i = 1; i < sequence.length; i++) {
      if (sequence[i] <= sequence[i - 1]) {
        stats.reordered++;
        violations.push(`out of order on "${rec}": applied ${JSON.stringify(sequence)}`);
        break;
      }
    }
    if (rec === POISON_ID && applied.some((op) => op.record === rec)) violations.push('the poison record was applied');

    for (const [index, write] of mine.entries()) {
      if (write.state === 'rejected') {
        if (arrived.has(write.n)) violations.push(`write #${write.n} was rejected (not stored) but reached the server`);
        continue;
      }
      if (write.state === 'pending' || arrived.has(write.n) || failedMarkers.has(write.n) || write.clearable || serverWinsMarkers.has(write.n)) continue;
      // Coalesced away: an update/create overtaken by a later delete it merged into,
      // or a delete that cancelled an unsent create (then neither is sent).
      const later = mine.slice(index + 1);
      const nextDelete = later.findIndex((w) => w.op === 'delete' && w.state !== 'rejected');
      const supersededByDelete = write.op !== 'delete' && nextDelete >= 0 && later.slice(0, nextDelete).every((w) => !arrived.has(w.n));
      let cancelledCreate = false;
      if (write.op === 'delete') {
        for (let j = index - 1; j >= 0; j--) {
          const before = mine[j];
          if (before.state === 'rejected') continue;
          if (arrived.has(before.n)) break;
          if (before.op === 'create') {
            cancelledCreate = true;
            break;
          }
        }
      }
      if (supersededByDelete || cancelledCreate) continue;
      stats.lost++;
      violations.push(`lost: write #${write.n} (${write.op} "${rec}") resolved but never reached the server nor failed$`);
    }

    // exact final state, where the scenario leaves no room for doubt
    const simple =
      rec !== POISON_ID && !cleared && !remotelyEdited.has(rec) && !ambiguous.has(rec) && mine.every((w) => w.state !== 'pending' && !everDeadMarkers.has(w.n));
    if (simple) {
      let expected: Record<string, unknown> | undefined;
      for (const w of mine) {
        if (w.state !== 'resolved') continue;
        expected = w.op === 'delete' ? undefined : w.op === 'create' ? { ...w.data } : { ...(expected ?? { id: rec }), ...w.data };
      }
      const actual = server.record(rec);
      if (JSON.stringify(sortKeys(actual)) !== JSON.stringify(sortKeys(expected))) {
        violations.push(`final state of "${rec}": server holds ${JSON.stringify(actual)}, the writes make ${JSON.stringify(expected)}`);
      }
    }
  }

  stats.wire = server.violations.length;
  violations.push(...server.violations);

  engine.destroy();
  for (const subscription of subscriptions) subscription.unsubscribe();
  await guard(server.idle(), 'the server').catch(() => undefined);
  // What a crash left hanging (a frozen storage write) is a promise, not a timer; every timer must be gone.
  await clock.advance(0);
  const timersLeft = clock.pendingTimers;

  stats.writes = writes.length;
  stats.resolved = writes.filter((w) => w.state === 'resolved').length;
  stats.rejected = writes.filter((w) => w.state === 'rejected').length;
  stats.uncertain = writes.filter((w) => w.state === 'pending').length;
  for (const [kind, n] of server.injected) stats.faults[kind] = n;
  if (storageFailuresInjected > 0) stats.faults['storage-setItem'] = storageFailuresInjected;
  if (stats.crashes > 0) stats.faults['crash'] = stats.crashes;
  return { violations, stats, serverLog: server.log, writes, timersLeft, requests: server.requests };
}

function sortKeys(value: Record<string, unknown> | undefined): unknown {
  return value === undefined ? null : Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}
