import { describeError, SyncInputError } from './errors.js';
import type { OutboxRoute } from './tabs/outboxRoute.js';
import type { SyncEvent, SyncItem } from './types.js';
import { validateWrite } from './validateWrite.js';
import { WriteSubject } from './writeSubject.js';

/** What the intake needs: the options that shape an item, and where it goes. */
export interface WriteIntakeOptions {
  entityNames: readonly string[];
  createId: () => string;
  now: () => number;
  /** Where a checked write is queued. */
  route: Pick<OutboxRoute, 'enqueue' | 'accept'>;
  /** True once the engine is destroyed: it takes no more writes. */
  destroyed: () => boolean;
  report: (event: SyncEvent) => void;
}

/**
 * The engine's one way in: `write()` and `writes$` check a write, make it a {@link SyncItem}
 * (its id, the engine's time, no retries yet) and queue it. `write()` rejects a bad write;
 * `writes$` has no one to reject, so it reports a bad one as `input-dropped` and drops it.
 */
export class WriteIntake {
  readonly writes$: WriteSubject;
  readonly #options: WriteIntakeOptions;

  constructor(options: WriteIntakeOptions) {
    this.#options = options;
    this.writes$ = new WriteSubject((write) => this.#accept(write));
  }

  /** Queues a write; resolves with its item once it is stored. */
  async write(write: unknown): Promise<SyncItem> {
    if (this.#options.destroyed()) {
      throw new SyncInputError('[rxsync] write() was called after destroy(). Create a new engine to keep writing.', write);
    }
    return this.#options.route.enqueue(this.#toItem(write));
  }

  #accept(write: unknown): void {
    try {
      if (write instanceof SyncInputError) throw write;
      if (this.#options.destroyed()) throw new SyncInputError('[rxsync] A write arrived on writes$ after destroy(); it was dropped.', write);
      this.#options.route.accept(this.#toItem(write));
    } catch (error) {
      this.#options.report({ type: 'input-dropped', write, error: describeError(error) });
    }
  }

  #toItem(write: unknown): SyncItem {
    const { entityNames, createId, now } = this.#options;
    const valid = validateWrite(write, entityNames);
    return { id: createId(), ...valid, timestamp: new Date(now()).toISOString(), retryCount: 0 };
  }
}
