/**
 * The command model of the reliability suite: random scenarios of writes, connectivity,
 * engine actions, pulls, crashes/restarts and injected server/storage/app faults, run
 * against the real engine and its real `httpTransport`, talking over msw to a
 * {@link SimulatedServer}, all in virtual time ({@link VirtualClock}): a scenario does the
 * same thing on every run, so any failure replays exactly.
 *
 * The boundary is part of it: a `headers` getter (sync or async) that hands out a new token
 * on every call and sometimes throws, single or batched pushes (`/_batch`), redirects, 2xx
 * answers with an empty, HTML or broken body, 409s without the record, requests that never get
 * an answer (the request timeout aborts them), a log segment that cannot be read at load, and
 * writes on `write()` or `writes$` made before the stored outbox loaded.
 *
 * Every write carries a unique marker (its number `n`: field `f{n}` on creates/updates,
 * `del` on deletes), so the server's log tells exactly which writes arrived, in which
 * order and how often, however the outbox coalesced them. The model also holds the app's
 * copy of the pulled records, and judges every dead letter by what the server answered.
 */
import fc from 'fast-check';
import { BehaviorSubject, filter, firstValueFrom, type Subscription } from 'rxjs';
import { createSyncEngine } from '../../src/index.js';
import type { Conflict, ConflictResolution, ConflictStrategy, SyncEngine, SyncItem, SyncOperation } from '../../src/index.js';
import { AppView } from './appView.js';
import { FaultyStorage, storageDevice } from './faultyStorage.js';
import { type Answer, engineHeader, FAULT_KINDS, type FaultKind, LOGIN_URL, markersOf, overHttp, POISON_ID, SimulatedServer } from './simulatedServer.js';
import { Stuck, VirtualClock } from './virtualClock.js';

export const RECORDS = ['a', 'b', 'c', POISON_ID] as const;
export type RecordId = (typeof RECORDS)[number];

export type Command =
  /** A write through `write()`, or pushed on `writes$` (no promise: the model judges it by where it went). */
  | { k: 'write'; rec: RecordId; op: SyncOperation; via?: 'writes$' }
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
  | { k: 'remoteEdit'; rec: RecordId }
  /** The transport's `headers` getter throws (or, async, rejects) on its next `n` calls. */
  | { k: 'headersFail'; n: number }
  /** From now on, the log segment read `nth` (from 0) fails once: at the next load, it cannot be read. */
  | { k: 'readFail'; nth: number }
  /** The next read of the outbox snapshot fails (once): the engine loading then must store nothing. */
  | { k: 'snapshotReadFail' };

export interface Scenario {
  strategy: ConflictStrategy;
  startOnline: boolean;
  commands: Command[];
  /** The engine's `batchSize` (default 1: every write alone). */
  batchSize?: number;
  /** Whether the transport's `headers` getter answers at once or through a Promise (default sync). */
  headers?: 'sync' | 'async';
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
  /** Writes made while the engine had not loaded the stored outbox yet. */
  writesBeforeLoad: number;
  /** Writes pushed on `writes$`. */
  writesViaSubject: number;
  /** Acks the server's answers do not justify (an ack of a redirect, of an answer never given). */
  unjustifiedAcks: number;
  /** Conflicts decided otherwise than the strategy says, or given an error object as the record. */
  misjudgedConflicts: number;
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
const operationArb = fc.constantFrom<SyncOperation>('create', 'update', 'update', 'delete');

export const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ k: fc.constant('write' as const), rec: recordArb, op: operationArb }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('write' as const), rec: recordArb, op: operationArb, via: fc.constant('writes$' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('online' as const), on: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ k: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'pull' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'fullSync' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'clear' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'reprocess' as const }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('restart' as const), crash: fc.boolean(), after: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 4 }) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('fault' as const), kind: fc.constantFrom(...FAULT_KINDS), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('storageFail' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pullFail' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remoteEdit' as const), rec: recordArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('headersFail' as const), n: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('readFail' as const), nth: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.constant({ k: 'snapshotReadFail' as const }) },
);

export const scenarioArb = (maxCommands = 25): fc.Arbitrary<Scenario> =>
  fc.record({
    strategy: fc.constantFrom<ConflictStrategy>('server-wins', 'client-wins', 'last-write-wins', 'manual'),
    startOnline: fc.boolean(),
    commands: fc.array(commandArb, { minLength: 3, maxLength: maxCommands, size: 'max' }),
    batchSize: fc.constantFrom(1, 1, 3),
    headers: fc.constantFrom<'sync' | 'async'>('sync', 'async'),
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
  /** Pushed on `writes$`: how much storage trouble (refused batches, crashes) there had been before it, and to which engine. */
  viaSubject?: { troubleBefore: number; engine: number };
}

const MAX_RETRIES = 3;
/** The engine's `requestTimeoutMs`: above the slow fault's delay, so only a hung request is aborted. */
const REQUEST_TIMEOUT_MS = 20;
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
    replica.get(r.id)?.version === r.version ||
    appView.shows(r.id, server.record(r.id)) ||
    appView.isPending(r.id) ||
    // A write an unreadable log segment held the ack of goes out again, and shows on top of the record as pending did.
    unreadChanges().records.has(r.id);
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
    writesBeforeLoad: 0, writesViaSubject: 0, unjustifiedAcks: 0, misjudgedConflicts: 0,
  };
  let storageFailuresInjected = 0;
  /** Whether engine `gen` could not read the outbox snapshot, so refuses to store anything. */
  const refusesAll = (gen: number): boolean => device.snapshotUnread.some((u) => u.engine === gen);
  let cleared = false;
  /**
   * Every storage view any engine had: their refused batches and crashes are the storage trouble
   * a `writes$` write may have met. A refused batch takes the writes collected behind it too, so
   * a write may meet a refusal that was under way (not yet seen) when it came.
   */
  const views: FaultyStorage[] = [];
  const storageTrouble = (seenOnly = false): number =>
    views.reduce((sum, { stats: s }) => sum + (seenOnly ? s.setItemFailuresSeen : s.setItemFailures) + s.crashes, 0);
  /** Keys the engines reported a storage problem for (`storage-error` events). */
  const reportedKeys = new Set<string>();
  /** Items dead-lettered, by engine: `${engine} ${id}` with the reasons. */
  const deadLettered = new Map<string, string[]>();
  /**
   * Updates whose conflict had no record and was decided for the client, with the PUTs of them
   * the server had answered then: none may follow until a conflict with the record (after
   * reprocessFailed()) allows one.
   */
  const mustNotPut = new Map<string, { data: string; puts: number }>();
  const putsOf = (id: string): number => server.answers.get(`${id}:put`)?.length ?? 0;
  const partialPut = (id: string): void => {
    const before = mustNotPut.get(id);
    if (before !== undefined && putsOf(id) > before.puts) {
      violations.push(`partial PUT: the update ${id} (${before.data}) was decided for the client without the server's record, and was PUT over the whole record`);
    }
    mustNotPut.delete(id);
  };

  // The transport's headers: a new token on every call (so a request built from an earlier attempt's
  // headers shows on the wire), sometimes through a Promise, sometimes failing.
  server.freshTokens = true;
  let tokens = 0;
  let headerFailures = 0;
  let headerThrows = 0;
  const headersFor = (gen: number) => (): Record<string, string> | Promise<Record<string, string>> => {
    const async = scenario.headers === 'async';
    if (headerFailures > 0) {
      headerFailures--;
      headerThrows++;
      const error = new Error('the token store is not ready (injected)');
      if (async) return Promise.reject(error);
      throw error;
    }
    const headers = { ...engineHeader(gen), Authorization: `Bearer t${++tokens}` };
    // (settled by promise jobs, not a timer: every timer left after a scenario must be the engine's)
    return async ? Promise.resolve().then(() => headers) : headers;
  };

  let engine!: SyncEngine<'todos'>;
  let storage!: FaultyStorage;
  let generation = 0;
  let destroyedUpTo = 0;
  let lastFailed: readonly SyncItem[] = [];
  const lastFailedOf = new Map<number, readonly SyncItem[]>();
  let tracked: Promise<unknown>[] = [];
  let ids = 0;
  const subscriptions: Subscription[] = [];

  let loaded = false;

  /** A new engine: after a crash on a fresh view of the device, after a clean destroy() on the same storage object. */
  const start = (reuseStorage = false): void => {
    generation++;
    const gen = generation;
    if (!reuseStorage) {
      storage = new FaultyStorage(device);
      views.push(storage);
    }
    storage.startedHere(gen);
    engine = createSyncEngine({
      entities: { todos: { endpoint: '/todos', conflictStrategy: scenario.strategy } },
      transport: overHttp(server, gen, headersFor(gen)),
      storage,
      online$,
      maxRetries: MAX_RETRIES,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 10,
      retryJitter: 0,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      concurrency: 2,
      batchSize: scenario.batchSize ?? 1,
      createId: () => `w${gen}.${++ids}`,
      // The app keeps its own edits over the other client's, and lets its deletions lose.
      onConflict: ({ localItem, remoteData }) =>
        remoteData === undefined || localItem.operation === 'delete' ? undefined : { ...(remoteData as object), ...(localItem.data as object) },
      onPull: async (_entity, items, info) => {
        if (pullFailures > 0) {
          pullFailures--;
          throw new Error('the app could not store the pulled records (injected)');
        }
        // A record has an id: an empty body, an HTML page or a broken answer is no record.
        const records = (items as Pulled[]).filter((item) => {
          const record = typeof item === 'object' && item !== null && RECORDS.includes(item.id as RecordId);
          if (!record) violations.push(`onPull was handed ${JSON.stringify(item)}, which is not a record`);
          return record;
        });
        appView.take(records, info);
        for (const item of records) {
          // Like any app: a record older than the copy it holds does not replace it.
          if ((replica.get(item.id)?.version ?? -1) <= item.version) replica.set(item.id, item);
        }
      },
    });
    tracked = [];
    const current = engine;
    loaded = false;
    void current.ready.then(() => {
      if (gen === generation) loaded = true;
    });
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
        if (event.type === 'storage-error' && event.key !== undefined) reportedKeys.add(event.key);
        if (event.type === 'pushed') {
          // An ack needs an answer that says so: applied (or replayed), or a conflict the server won.
          const { item } = event;
          const answers = server.answers.get(item.overwrite ? `${item.id}:put` : item.id) ?? [];
          const justified = event.status === 409 ? answers.some((a) => a === 'conflict' || a === 'bare-conflict') : answers.includes('ok');
          if (!justified) {
            stats.unjustifiedAcks++;
            violations.push(`ack without cause: ${item.id} (${JSON.stringify(item.data)}) counted as delivered (${event.status}) after answers ${JSON.stringify(answers)}`);
          }
        }
        if (event.type !== 'dead-lettered') return;
        const { id, operation } = event.item;
        deadLettered.set(`${gen} ${id}`, [...(deadLettered.get(`${gen} ${id}`) ?? []), event.error]);
        const answers = answersOf(id);
        const putAnswers = server.answers.get(`${id}:put`) ?? [];
        // An item dead-lettered before a crash that did not make it durable comes back with its retry count: still justified.
        const transients = transientsOf(id) - (spentTransients.get(id) ?? 0);
        // Without the server's record a partial update cannot be made a whole one to overwrite with.
        const noWholeRecord = operation === 'update' && answers.includes('bare-conflict') && (scenario.strategy === 'client-wins' || scenario.strategy === 'last-write-wins');
        const justified =
          answers.includes('permanent') || answers.includes('redirect') || putAnswers.some((a) => a === 'conflict' || a === 'bare-conflict') || transients > MAX_RETRIES || noWholeRecord;
        if (!justified) {
          stats.unjustified++;
          violations.push(`dead letter without cause: ${id} (${JSON.stringify(event.item.data)}) after answers ${JSON.stringify(answers)}: ${event.error}`);
        }
      }),
      current.conflicts$.subscribe((conflict) => {
        if (conflict.resolution.outcome === 'server-wins') for (const m of markersOf(conflict.localItem.data)) serverWinsMarkers.add(m);
        const problem = misjudged(scenario.strategy, conflict, server.answers.get(conflict.localItem.id) ?? []);
        if (problem !== undefined) {
          stats.misjudgedConflicts++;
          violations.push(`conflict misjudged: ${conflict.localItem.id} (${conflict.localItem.operation} of "${String(recordOf(conflict.localItem))}"): ${problem}`);
        }
        const { resolution, remoteData, localItem } = conflict;
        partialPut(localItem.id);
        if (resolution.outcome === 'client-wins' && resolution.strategy !== 'manual' && remoteData === undefined && localItem.operation === 'update') {
          mustNotPut.set(localItem.id, { data: JSON.stringify(localItem.data), puts: putsOf(localItem.id) });
        }
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

  /** The records and items the log segments that could not be read at load changed (see the checks). */
  const unreadChanges = (): { records: Set<string>; items: Set<string> } => {
    const records = new Set<string>();
    const items = new Set<string>();
    for (const { value } of device.unreadable) {
      for (const [, entry] of (value as { entries?: [string, SyncItem | string][] } | null)?.entries ?? []) {
        items.add(typeof entry === 'string' ? entry : entry.id);
        const rec = ((typeof entry === 'string' ? queuedData.get(entry) : entry.data) as { id?: string } | undefined)?.id;
        if (rec !== undefined) records.add(rec);
      }
    }
    return { records, items };
  };

  const track = (promise: Promise<unknown>, what: string, mayRejectWithStorageError: boolean): void => {
    const gen = generation;
    const watched = promise.catch((error: unknown) => {
      const name = (error as Error | undefined)?.name;
      // A clear/requeue still waiting for the stored queue to load when destroy() came is refused.
      const destroyedFirst = mayRejectWithStorageError && name === 'SyncInputError' && gen <= destroyedUpTo;
      if (!destroyedFirst && !(mayRejectWithStorageError && name === 'SyncStorageError' && (storageFailuresInjected > 0 || refusesAll(gen)))) {
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
          if (!loaded) stats.writesBeforeLoad++;
          const gen = generation;
          if (command.via === 'writes$') {
            stats.writesViaSubject++;
            write.viaSubject = { troubleBefore: storageTrouble(true), engine: gen };
            engine.writes$.next({ entity: 'todos', operation: op, data });
            break;
          }
          engine.write({ entity: 'todos', operation: op, data }).then(
            () => {
              write.state = 'resolved';
            },
            (error: unknown) => {
              write.state = 'rejected';
              if (writes.some((w) => w.rec === write.rec && w.n > write.n)) ambiguous.add(write.rec);
              const name = (error as Error).name;
              const fine = (name === 'SyncStorageError' && (storageFailuresInjected > 0 || refusesAll(gen))) || name === 'SyncInputError';
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
        case 'headersFail':
          headerFailures += command.n;
          break;
        case 'readFail':
          device.segmentReadFailsAfter = command.nth;
          break;
        case 'snapshotReadFail':
          device.snapshotReadFails = true;
          break;
      }
    }

    // ── settle: online, healthy server and storage; the engine must empty its queue by itself ──
    server.clearFaults();
    storage.failNextSetItems = 0;
    device.snapshotReadFails = false;
    pullFailures = 0;
    headerFailures = 0;
    online$.next(true);
    await guard(engine.ready, 'engine.ready');
    if (refusesAll(generation)) {
      // It said so, and stored nothing: the next engine, on storage that reads again, delivers what it could not read.
      if (!reportedKeys.has(device.snapshotUnread[device.snapshotUnread.length - 1].key)) violations.push('unreadable: the outbox snapshot could not be read at load, and no storage-error event named it');
      destroyedUpTo = generation;
      engine.destroy();
      start();
      await guard(engine.ready, 'engine.ready after the snapshot could be read again');
    }
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
    // (a record a log segment that could not be read changed may be shown as an older answer replayed to a re-send)
    const shown = [...new Set([...server.versions().map((r) => r.id), ...appView.ids()])].filter((id) => !unreadChanges().records.has(id));
    violations.push(...appView.differences(shown, (id) => server.record(id)));
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

  // A log segment that could not be read at load is reported, left as it was (never deleted, its
  // number never reused), and what it held is not loaded: the writes of the records it changed
  // (an item in it, a merge into one, a delete that cancelled a create) are reported, not sent,
  // and an item of it may go out again as an older version of itself.
  const { records: unreadRecords, items: unreadItems } = unreadChanges();
  for (const rec of unreadRecords) ambiguous.add(rec);
  for (const { key, value, engine: failed } of device.unreadable) {
    // Unless an engine started after the one that could not read it read or wrote it as it was
    // (before or after): then that engine holds its writes and owns it like any other segment (the
    // one that failed was destroyed before it had loaded, and was late).
    if (device.segmentsSeen.some((seen) => seen.key === key && seen.engine > failed && seen.value === JSON.stringify(value))) continue;
    const now: unknown = await device.base.getItem(key);
    if (JSON.stringify(now) !== JSON.stringify(value)) {
      violations.push(`unreadable: the log segment "${key}" could not be read at load, and was then ${now === null ? 'deleted' : `overwritten with ${JSON.stringify(now)}`}`);
    }
    if (!reportedKeys.has(key)) violations.push(`unreadable: the log segment "${key}" could not be read at load, and no storage-error event named it`);
  }

  for (const { engine: failed } of device.snapshotUnread) {
    if (device.snapshotWrittenBy.has(failed)) violations.push(`unreadable: engine #${failed} could not read the outbox snapshot, and then wrote over it`);
  }

  const applied = server.log.filter((op) => !op.noop);
  const arrived = new Set(server.log.flatMap((op) => op.markers));
  const count = new Map<number, number>();
  for (const op of applied) for (const m of op.markers) count.set(m, (count.get(m) ?? 0) + 1);
  for (const [m, times] of count) {
    // An item an unreadable segment changed may go out again as its older self (e.g. the original
    // request of a conflict decided in that segment), under a key the server judges afresh.
    const byUnreadItems = applied.filter((op) => op.markers.includes(m)).every((op) => unreadItems.has(op.key.replace(/:put$/, '')));
    if (times > 1 && !byUnreadItems) {
      stats.doubled++;
      violations.push(`doubled: write #${m} was applied ${times} times: ${JSON.stringify(applied.filter((op) => op.markers.includes(m)))}`);
    }
  }
  const failedMarkers = new Set(lastFailed.flatMap((item) => markersOf(item.data)));
  const byRecord = (rec: string) => writes.filter((w) => w.rec === rec);

  // A write on writes$ has no promise: stored for sure unless storage refused a batch or crashed after it came.
  for (const write of writes) {
    if (write.viaSubject === undefined || refusesAll(write.viaSubject.engine)) continue;
    if (arrived.has(write.n) || failedMarkers.has(write.n) || storageTrouble() === write.viaSubject.troubleBefore) write.state = 'resolved';
  }

  // A redirect is a permanent failure that names where it pointed: the engine that got it dead-letters the write.
  if (!cleared) {
    for (const { key, engine: sender } of server.redirected) {
      if (sender !== generation || key.endsWith(':put')) continue;
      const reasons = deadLettered.get(`${sender} ${key}`);
      if (reasons === undefined) violations.push(`redirect: ${key} was answered 303, yet engine #${sender} never dead-lettered it`);
      else if (!reasons.some((reason) => reason.includes(LOGIN_URL))) violations.push(`redirect: no dead letter of ${key} names the Location ${LOGIN_URL}: ${reasons.join(' / ')}`);
    }
  }
  for (const id of [...mustNotPut.keys()]) partialPut(id);

  for (const rec of RECORDS) {
    const mine = byRecord(rec);
    // order: what arrived for a record arrived in write order (cleared and dead-lettered writes are exempt)
    // (a no-op, such as a late DELETE of a record already gone, changes nothing, so it cannot be out of order)
    const sequence = server.log.filter((op) => op.record === rec && !op.noop).flatMap((op) => op.markers).filter((m) => !everDeadMarkers.has(m) && !writes[m - 1]?.clearable)
      // a DELETE of a missing record (404) stores no answer, so a retry of it is evaluated (and logged) again
      .filter((m, i, all) => all.indexOf(m) === i);
    // (an unreadable log segment may have held what cancelled or superseded an older write that a later load sends)
    for (let i = 1; i < sequence.length && !unreadRecords.has(rec); i++) {
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
      if (write.state === 'pending' || arrived.has(write.n) || failedMarkers.has(write.n) || write.clearable || serverWinsMarkers.has(write.n) || unreadRecords.has(rec)) continue;
      // Coalesced away: a write overtaken by a later delete it merged into (a delete into a
      // delete too: one DELETE carries the later one's data), or a delete that cancelled an
      // unsent create (then neither is sent).
      const later = mine.slice(index + 1);
      const nextDelete = later.findIndex((w) => w.op === 'delete' && w.state !== 'rejected');
      const supersededByDelete = nextDelete >= 0 && later.slice(0, nextDelete).every((w) => !arrived.has(w.n));
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
      rec !== POISON_ID &&
      !cleared &&
      !remotelyEdited.has(rec) &&
      !server.bareConflicts.has(rec) &&
      !ambiguous.has(rec) &&
      mine.every((w) => w.state !== 'pending' && !everDeadMarkers.has(w.n));
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

  // The one breach a storage read failure explains: the same key sent again as the older version of its item.
  const wire = server.violations.filter((v) => !unreadItems.has(/^wire: key (\S+?)(:put)? was first sent/.exec(v)?.[1] ?? ''));
  stats.wire = wire.length;
  violations.push(...wire);

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
  if (device.unreadable.length > 0) stats.faults['storage-getItem'] = device.unreadable.length;
  if (device.snapshotUnread.length > 0) stats.faults['snapshot-getItem'] = device.snapshotUnread.length;
  if (headerThrows > 0) stats.faults['headers-throw'] = headerThrows;
  if (stats.crashes > 0) stats.faults['crash'] = stats.crashes;
  return { violations, stats, serverLog: server.log, writes, timersLeft, requests: server.requests };
}

/** What is wrong with how a conflict was decided, if anything: the remote record only where the 409 carried one, and the strategy's outcome. */
function misjudged(strategy: ConflictStrategy, { localItem, remoteData, resolution }: Conflict & { resolution: ConflictResolution }, answers: readonly Answer[]): string | undefined {
  const bare = answers.includes('bare-conflict');
  const whole = answers.includes('conflict');
  if (bare && !whole && remoteData !== undefined) return `the 409 carried no record, yet the conflict holds ${JSON.stringify(remoteData)} as the server's`;
  if (whole && !bare && remoteData === undefined) return 'the 409 carried the record, yet the conflict holds none';
  const remote = remoteData as { updatedAt?: string } | undefined;
  const expected =
    strategy === 'server-wins' ||
    (strategy === 'manual' && (remote === undefined || localItem.operation === 'delete')) ||
    // last-write-wins: the server's record wins when it is at least as new as the write.
    (strategy === 'last-write-wins' && remote !== undefined && Date.parse(String(remote.updatedAt)) >= Date.parse(localItem.timestamp))
      ? 'server-wins'
      : 'client-wins';
  return resolution.outcome === expected ? undefined : `${strategy} should decide ${expected}, it decided ${resolution.outcome}`;
}

/** The record id a queued item writes. */
function recordOf(item: SyncItem): unknown {
  return (item.data as { id?: unknown }).id;
}

function sortKeys(value: Record<string, unknown> | undefined): unknown {
  return value === undefined ? null : Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)));
}
