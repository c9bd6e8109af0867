import type { DurableOutbox } from '../durableOutbox.js';
import type { SyncItem } from '../types.js';
import { NotLeaderError } from './epochFence.js';
import type { TabCall } from './tabMessages.js';
import type { TabSession } from './tabSession.js';

/**
 * Where the engine's writes and calls on the outbox go: to its own outbox, or, while another
 * tab leads the outbox the tabs share, to the leading tab.
 */
export class OutboxRoute {
  readonly #tabs: TabSession | undefined;
  readonly #outbox: DurableOutbox;

  constructor(tabs: TabSession | undefined, outbox: DurableOutbox) {
    this.#tabs = tabs;
    this.#outbox = outbox;
  }

  /** True while another tab leads: this engine's writes and calls run there. */
  get follows(): boolean {
    return this.#tabs?.follows === true;
  }

  /** Runs `call`: `here`, or at the leading tab while this engine follows. */
  call<T>(call: TabCall, here: () => Promise<T>): Promise<T> {
    return this.follows ? (this.#tabs!.request({ kind: 'call', call }) as Promise<T>) : here();
  }

  /** Queues an item and resolves once it is stored: here, or at the leading tab. */
  async enqueue(item: SyncItem): Promise<SyncItem> {
    if (this.follows) return (await this.#tabs!.request({ kind: 'write', item })) as SyncItem;
    try {
      const transition = await this.#outbox.dispatchDurably({ type: 'enqueue', item });
      return transition.item ?? item;
    } catch (error) {
      // The lead was taken meanwhile: the new leader queues it (once: the write keeps its id).
      if (error instanceof NotLeaderError) return this.enqueue(item);
      throw error;
    }
  }

  /** Queues an item from `writes$`, where nobody waits for it to be stored. */
  accept(item: SyncItem): void {
    // A shared outbox may change hands before the write is stored: it needs the durable path.
    if (this.#tabs) void this.enqueue(item).catch(() => undefined);
    else this.#outbox.dispatch({ type: 'enqueue', item });
  }

  /** The queued writes of a record, in send order. */
  pendingFor(entity: string, id: string | number): readonly SyncItem[] {
    return this.follows ? this.#tabs!.pendingFor(entity, id) : this.#outbox.pendingFor(entity, id);
  }

  get queueLength(): number {
    return this.follows ? this.#tabs!.queueLength : this.#outbox.size;
  }
}
