import { SyncStorageError } from '../errors.js';
import type { SyncStorage } from '../types.js';

/** Thrown by a storage write of a tab that no longer leads: its writes go to the new leader instead. */
export class NotLeaderError extends SyncStorageError {
  constructor(key: string) {
    super('[rxsync] Another tab took over this outbox, so this tab no longer writes it; its writes are sent to that tab instead.', key);
  }
}

/**
 * Keeps a tab that lost the lead from writing the log under its successor. Each leader stores
 * a new epoch (one more than the last) before it loads the outbox, and checks it right before
 * every write: a write issued after a successor stored its epoch is refused, and one issued
 * before it is already in storage when the successor loads (it loads only after storing its
 * epoch), so nothing a stale leader called durable is missed, and it never writes over a
 * successor's segments or snapshot.
 */
export class EpochFence {
  readonly #storage: SyncStorage;
  readonly #key: string;
  #own: number | undefined;

  constructor(storage: SyncStorage, key: string) {
    this.#storage = storage;
    this.#key = key;
  }

  /** This tab's epoch once it claimed one, else 0. */
  get epoch(): number {
    return this.#own ?? 0;
  }

  /** Makes this tab the newest leader. */
  async claim(): Promise<void> {
    const next = (await this.#read()) + 1;
    await this.#storage.setItem(this.#key, next);
    this.#own = next;
  }

  /** Rejects with {@link NotLeaderError} once another tab has claimed after this one. */
  async check(): Promise<void> {
    if (this.#own === undefined || (await this.#read()) !== this.#own) throw new NotLeaderError(this.#key);
  }

  async #read(): Promise<number> {
    const stored = await this.#storage.getItem<unknown>(this.#key);
    // Anything but a counter (a damaged value) starts it again; the claim then writes a good one.
    return typeof stored === 'number' && Number.isSafeInteger(stored) && stored >= 0 ? stored : 0;
  }
}
