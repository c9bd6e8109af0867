import { BehaviorSubject, combineLatest, distinctUntilChanged, map, type Observable, ReplaySubject, scan, share, startWith, takeUntil } from 'rxjs';
import type { OutboxCounts } from './durableOutbox.js';
import type { SyncEvent, SyncStatusInfo } from './types.js';

/** Everything status is made of. */
export interface StatusFacts {
  online: boolean;
  outbox: OutboxCounts;
  /** Another engine (or tab) holds the outbox; this one waits to load it. */
  waiting: boolean;
  /** Pulls under way. */
  pulling: number;
  /** The earliest scheduled retry, in ms since the epoch. */
  nextRetryAt: number | undefined;
  lastError: string | undefined;
  lastSyncAt: string | undefined;
}

/**
 * The status the facts add up to: `waiting` for another engine, `offline`, `syncing` while
 * anything is queued or pulled, `error` while only dead letters are left, else `idle`.
 */
export function toStatus(facts: StatusFacts): SyncStatusInfo {
  const { online, outbox, pulling } = facts;
  const status = facts.waiting
    ? 'waiting'
    : !online
      ? 'offline'
      : outbox.queueLength > 0 || pulling > 0
        ? 'syncing'
        : outbox.failedCount > 0
          ? 'error'
          : 'idle';
  const info: SyncStatusInfo = {
    status,
    online,
    queueLength: outbox.queueLength,
    inFlight: outbox.inFlight,
    failedCount: outbox.failedCount,
  };
  if (facts.lastSyncAt !== undefined) info.lastSyncAt = facts.lastSyncAt;
  if (facts.lastError !== undefined) info.lastError = facts.lastError;
  if (facts.nextRetryAt !== undefined) info.nextRetryAt = new Date(facts.nextRetryAt).toISOString();
  return info;
}

/** Each fact as a stream; `online` first, so the status hears of a reconnect before anything is sent on it. */
export type StatusInputs = { [K in Exclude<keyof StatusFacts, 'lastError' | 'lastSyncAt'>]: Observable<StatusFacts[K]> } & {
  /** The engine's events: `lastError` and `lastSyncAt` are read off them. */
  events: Observable<SyncEvent>;
};

/** The status as a stream: recomputed from the latest facts, emitted only when it changed. */
export function status$({ events, ...inputs }: StatusInputs): Observable<SyncStatusInfo> {
  return combineLatest({
    ...inputs,
    lastError: events.pipe(scan(lastErrorAfter, undefined), startWith(undefined), distinctUntilChanged()),
    lastSyncAt: events.pipe(scan(lastSyncAfter, undefined), startWith(undefined), distinctUntilChanged()),
  }).pipe(map(toStatus), distinctUntilChanged(sameStatus));
}

/**
 * The status `getStatus()` reads and `status$` shows, from the start until `stop$`: this engine's
 * own, or what `shown` makes of it (where tabs share the outbox, the leader's while another tab leads).
 */
export function currentStatus(
  inputs: StatusInputs,
  shown: (here$: Observable<SyncStatusInfo>) => Observable<SyncStatusInfo>,
  stop$: Observable<unknown>,
): BehaviorSubject<SyncStatusInfo> {
  const current = new BehaviorSubject<SyncStatusInfo>({ status: 'offline', online: false, queueLength: 0, inFlight: 0, failedCount: 0 });
  // Replays this engine's latest status to `shown` whenever it switches back to it.
  const here = new BehaviorSubject<SyncStatusInfo>(current.value);
  status$(inputs).pipe(takeUntil(stop$)).subscribe(here);
  shown(here).pipe(takeUntil(stop$)).subscribe((status) => current.next(status));
  return current;
}

/** `lastError` after an event: the newest failure, cleared by a delivery. */
function lastErrorAfter(last: string | undefined, event: SyncEvent): string | undefined {
  switch (event.type) {
    case 'pushed':
      return undefined;
    case 'retried':
    case 'dead-lettered':
    case 'pull-failed':
    case 'input-dropped':
    case 'storage-error':
    case 'auth-required':
      return event.error;
    default:
      return last;
  }
}

/** `lastSyncAt` after an event: the time of the last flush, pull or full sync that succeeded. */
function lastSyncAfter(last: string | undefined, event: SyncEvent): string | undefined {
  return event.type === 'sync-complete' && event.result.success ? event.result.timestamp : last;
}

function sameStatus(a: SyncStatusInfo, b: SyncStatusInfo): boolean {
  return (
    a.status === b.status &&
    a.online === b.online &&
    a.queueLength === b.queueLength &&
    a.inFlight === b.inFlight &&
    a.failedCount === b.failedCount &&
    a.lastSyncAt === b.lastSyncAt &&
    a.lastError === b.lastError &&
    a.nextRetryAt === b.nextRetryAt
  );
}

/**
 * The one online signal every part uses: distinct values, shared (the latest replayed to each
 * new subscriber), ended with the engine.
 */
export function onlineSignal$(source: Observable<boolean>, stop$: Observable<unknown>): Observable<boolean> {
  return source.pipe(distinctUntilChanged(), takeUntil(stop$), share({ connector: () => new ReplaySubject(1), resetOnRefCountZero: true }));
}
