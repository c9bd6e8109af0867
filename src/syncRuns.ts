import { type Observable } from 'rxjs';
import type { DurableOutbox } from './durableOutbox.js';
import type { ResolvedConflict } from './operators/resolveConflict.js';
import type { SyncEvent, SyncResult } from './types.js';

export interface SyncRunsOptions {
  /** Resolves once there is an outbox to run on. */
  ready: Promise<void>;
  outbox: Pick<DurableOutbox, 'items' | 'whenSettled' | 'nudge'>;
  pull: () => Promise<{ pulled: number; errors: number }>;
  /** False once the engine is destroyed or while it is offline: a run then fails at once. */
  canSync: () => boolean;
  /** Ends a flush's wait for its items: the engine destroyed, gone offline, or waiting for new credentials. */
  stop$: Observable<unknown>;
  conflicts$: Observable<ResolvedConflict>;
  now: () => number;
  report: (event: SyncEvent) => void;
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
    const { ready, outbox, canSync, conflicts$, stop$ } = this.#options;
    await ready;
    const ids = new Set(outbox.items().map((item) => item.id));
    if (!canSync()) return this.#result({ success: false });
    if (ids.size === 0) return this.#result({ success: true });
    const conflicted = new Set<string>();
    const conflicts = conflicts$.subscribe(({ localItem }) => ids.has(localItem.id) && conflicted.add(localItem.id));
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
    this.#options.report({ type: 'sync-complete', result });
    return result;
  }
}
