import { filter, merge, type Observable } from 'rxjs';
import type { DurableOutbox } from './durableOutbox.js';
import type { EngineEvents } from './engineEvents.js';
import type { SyncResult, SyncStatusInfo } from './types.js';

/** What the runs need of the engine's parts. */
export interface SyncRunsOptions {
  /** Resolves once there is an outbox to run on. */
  ready: Promise<void>;
  outbox: Pick<DurableOutbox, 'items' | 'whenSettled' | 'nudge'>;
  /** One pull of every entity (the Puller's): records handed to the app, entities that failed. */
  pull: () => Promise<{ pulled: number; errors: number }>;
  /** False once the engine is destroyed or while it is offline: a run then fails at once. */
  canSync: () => boolean;
  /** Emits when the engine is destroyed. */
  destroyed$: Observable<unknown>;
  /** The engine's status: a flush stops waiting once it says offline. */
  status$: Observable<SyncStatusInfo>;
  /** The engine's events: a run hears of conflicts and credentials here, and reports `sync-complete`. */
  events: Pick<EngineEvents, 'events$' | 'conflicts$' | 'emit'>;
  now: () => number;
}

/**
 * `flush()`, `pull()` and `fullSync()`: each runs once over the engine's parts and ends in a
 * {@link SyncResult}, stamped with the engine's clock and reported as `sync-complete`.
 */
export class SyncRuns {
  readonly #options: SyncRunsOptions;

  constructor(options: SyncRunsOptions) {
    this.#options = options;
  }

  /** Sends the queue as it is now and resolves once each of its items has left it (or the flush was stopped). */
  async flush(): Promise<SyncResult> {
    return this.#completed(await this.#flushOnce());
  }

  async pull(): Promise<SyncResult> {
    return this.#completed(await this.#pullOnce());
  }

  /** A flush, then a pull, as one result. */
  async fullSync(): Promise<SyncResult> {
    await this.#options.ready;
    if (!this.#options.canSync()) return this.#completed(this.#result({ success: false }));
    const pushed = await this.#flushOnce();
    const { pulled, errors } = await this.#pullOnce();
    const success = pushed.success && errors === 0;
    return this.#completed(this.#result({ success, pushed: pushed.pushed, conflicts: pushed.conflicts, pulled, errors: pushed.errors + errors }));
  }

  async #flushOnce(): Promise<SyncResult> {
    const { ready, outbox, canSync, destroyed$, status$, events } = this.#options;
    await ready;
    const ids = new Set(outbox.items().map((item) => item.id));
    if (!canSync()) return this.#result({ success: false });
    if (ids.size === 0) return this.#result({ success: true });
    const conflicted = new Set<string>();
    const conflicts = events.conflicts$.subscribe(({ localItem }) => ids.has(localItem.id) && conflicted.add(localItem.id));
    // The wait ends early when the engine is destroyed, goes offline, or needs new credentials.
    const stop$ = merge(destroyed$, status$.pipe(filter((status) => !status.online)), events.events$.pipe(filter((event) => event.type === 'auth-required')));
    const settled = outbox.whenSettled(ids, stop$);
    outbox.nudge();
    const { complete, pushed, errors } = await settled;
    conflicts.unsubscribe();
    return this.#result({ success: complete && errors === 0, pushed, errors, conflicts: conflicted.size });
  }

  async #pullOnce(): Promise<SyncResult> {
    await this.#options.ready;
    if (!this.#options.canSync()) return this.#result({ success: false });
    const { pulled, errors } = await this.#options.pull();
    return this.#result({ success: errors === 0, pulled, errors });
  }

  #result(partial: Partial<SyncResult> & { success: boolean }): SyncResult {
    return { pushed: 0, pulled: 0, conflicts: 0, errors: 0, ...partial, timestamp: new Date(this.#options.now()).toISOString() };
  }

  #completed(result: SyncResult): SyncResult {
    this.#options.events.emit({ type: 'sync-complete', result });
    return result;
  }
}
