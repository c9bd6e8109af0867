import {
  catchError,
  defaultIfEmpty,
  defer,
  from,
  isObservable,
  map,
  mergeMap,
  type Observable,
  of,
  type OperatorFunction,
  take,
} from 'rxjs';
import { describeError } from '../errors.js';
import type { Conflict, ConflictResolution, ConflictStrategy } from '../types.js';

/** Options of {@link resolveConflict}. */
export interface ResolveConflictConfig {
  /** A strategy for all conflicts, or one per conflict (e.g. by entity). */
  strategy: ConflictStrategy | ((conflict: Conflict) => ConflictStrategy);
  /**
   * For `manual`: returns the record to keep, as a value, Promise or Observable (its first
   * value). Returning nothing, or the remote record itself, lets the server win. Without it,
   * `manual` means server-wins.
   */
  onConflict?: (conflict: Conflict) => unknown;
}

/** A conflict with the decision taken on it, as `resolveConflict` emits it. */
export type ResolvedConflict = Conflict & { resolution: ConflictResolution };

/**
 * Decides each conflict (the server answered 409 with its own record) by strategy:
 * - `server-wins`: keep the remote record, send nothing;
 * - `client-wins`: send the local write again, merged over the remote record, as a `PUT`;
 * - `last-write-wins`: client-wins when the local write is newer than the remote
 *   `updatedAt` (or the remote has none), else server-wins;
 * - `manual`: ask `onConflict`; a callback that throws or errors gives outcome `'error'`.
 *
 * Conflicts are decided independently; one slow `onConflict` does not hold up the others.
 *
 * @example
 * ```ts
 * import { of } from 'rxjs';
 * import { resolveConflict } from 'rxsync/operators';
 *
 * of({ entity: 'todos', remoteData: { id: '1', title: 'server', updatedAt: '2020-01-01T00:00:00Z' },
 *      localItem: { id: 'k1', entity: 'todos', operation: 'update', data: { id: '1', title: 'mine' },
 *                   timestamp: '2024-01-01T00:00:00Z', retryCount: 0 } })
 *   .pipe(resolveConflict({ strategy: 'last-write-wins' }))
 *   .subscribe((c) => console.log(c.resolution)); // { strategy: 'last-write-wins', outcome: 'client-wins', data: { id: '1', title: 'mine', updatedAt: … } }
 * ```
 */
export function resolveConflict(config: ResolveConflictConfig): OperatorFunction<Conflict, ResolvedConflict> {
  return mergeMap((conflict) => {
    const strategy = typeof config.strategy === 'function' ? config.strategy(conflict) : config.strategy;
    return decide(conflict, strategy, config.onConflict).pipe(
      map((resolution): ResolvedConflict => ({ ...conflict, resolution })),
    );
  });
}

function decide(
  conflict: Conflict,
  strategy: ConflictStrategy,
  onConflict: ((conflict: Conflict) => unknown) | undefined,
): Observable<ConflictResolution> {
  const serverWins: ConflictResolution = { strategy, outcome: 'server-wins' };
  const clientWins = (data: unknown): ConflictResolution => ({ strategy, outcome: 'client-wins', data });
  switch (strategy) {
    case 'server-wins':
      return of(serverWins);
    case 'client-wins':
      return of(clientWins(localOverRemote(conflict)));
    case 'last-write-wins':
      return of(localIsNewer(conflict) ? clientWins(localOverRemote(conflict)) : serverWins);
    case 'manual':
      if (!onConflict) return of(serverWins);
      return defer(() => toObservable(onConflict(conflict))).pipe(
        take(1),
        defaultIfEmpty(undefined),
        map((kept) =>
          kept === undefined || kept === null || JSON.stringify(kept) === JSON.stringify(conflict.remoteData)
            ? serverWins
            : clientWins(kept),
        ),
        catchError((error: unknown) =>
          of<ConflictResolution>({ strategy, outcome: 'error', error: `[rxsync] onConflict failed: ${describeError(error)}` }),
        ),
      );
  }
}

function toObservable(value: unknown): Observable<unknown> {
  const thenable = typeof (value as PromiseLike<unknown> | null)?.then === 'function';
  return isObservable(value) || thenable ? from(value as PromiseLike<unknown>) : of(value);
}

/** What the client meant the record to be: a create is the whole record, an update is layered over the remote one. */
function localOverRemote({ localItem, remoteData }: Conflict): unknown {
  if (localItem.operation === 'update' && remoteData !== null && typeof remoteData === 'object') {
    return { ...remoteData, ...(localItem.data as object) };
  }
  return localItem.data;
}

function localIsNewer({ localItem, remoteData }: Conflict): boolean {
  const remote = Date.parse(String((remoteData as { updatedAt?: unknown } | null)?.updatedAt));
  return Number.isNaN(remote) || Date.parse(localItem.timestamp) > remote;
}
