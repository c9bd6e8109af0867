import { catchError, EMPTY, filter, from, interval, merge, type Observable, pairwise, type SchedulerLike, switchMap, take } from 'rxjs';
import { describeError } from './errors.js';
import { coalesceRuns } from './operators/coalesceRuns.js';
import type { OutboxCounts } from './durableOutbox.js';
import type { ResolvedOptions } from './engineOptions.js';
import type { SyncEvent } from './types.js';

export interface PullTriggerSources {
  autoPull: ResolvedOptions<string>['autoPull'];
  /** Resolves once the stored outbox has loaded. */
  loaded: Promise<unknown>;
  online$: Observable<boolean>;
  events$: Observable<SyncEvent>;
  counts$: Observable<OutboxCounts>;
  poke$?: Observable<unknown>;
  scheduler?: SchedulerLike;
  report: (event: SyncEvent) => void;
}

/**
 * Every moment the engine pulls by itself: once loaded, on reconnect, when its own pushes have
 * emptied the queue, on an interval, and on each poke. A `poke$` that fails is reported and no
 * longer followed; the other triggers go on.
 */
export function pullTriggers$({ autoPull, loaded, online$, events$, counts$, poke$, scheduler, report }: PullTriggerSources): Observable<unknown> {
  const drained$ = counts$.pipe(filter((counts) => counts.queueLength === 0), take(1));
  return merge(
    autoPull.onStart ? from(loaded) : EMPTY,
    autoPull.onReconnect ? online$.pipe(pairwise(), filter(([was, is]) => !was && is)) : EMPTY,
    autoPull.afterPush ? events$.pipe(filter((event) => event.type === 'pushed'), switchMap(() => drained$)) : EMPTY,
    autoPull.intervalMs > 0 ? interval(autoPull.intervalMs, scheduler) : EMPTY,
    (poke$ ?? EMPTY).pipe(
      catchError((error: unknown) => {
        report({ type: 'callback-error', callback: 'poke$', error: `[rxsync] poke$ failed, so pulls no longer follow it: ${describeError(error)}` });
        return EMPTY;
      }),
    ),
  );
}

/**
 * The pulls the engine makes by itself: one at each trigger while `canPull()` says so, and any
 * pile of triggers during a pull makes exactly one more. A pull that rejects stops no later one.
 */
export function autoPulls$(sources: PullTriggerSources & { canPull: () => boolean; pull: () => Promise<unknown> }): Observable<unknown> {
  return pullTriggers$(sources).pipe(
    filter(() => sources.canPull()),
    coalesceRuns(() => sources.pull().catch(() => undefined)),
  );
}
