import { BehaviorSubject, defer, distinctUntilChanged, filter, firstValueFrom, map, merge, type MonoTypeOperatorFunction, Observable, shareReplay, Subject, take, takeUntil, tap } from 'rxjs';
import { describeError, SyncInputError, SyncStorageError } from './errors.js';
import { Outbox, type OutboxCommand, type OutboxTransition } from './outbox.js';
import type { OutboxStore } from './outboxStore.js';
import { dedupe } from './operators/dedupe.js';
import { persist, type PersistedBatch } from './operators/persist.js';
import type { PushQueue } from './pusher.js';
import type { SyncEvent, SyncItem } from './types.js';

/** An item that left the queue, and why. */
export interface Settled {
  id: string;
  outcome: 'pushed' | 'failed' | 'dropped';
  /** The item that left, when it is known. */
  item?: SyncItem;
}

/** The outbox's numbers, as status shows them. */
export interface OutboxCounts {
  /** Queued writes, counting those that wait for the stored outbox to load. */
  queueLength: number;
  inFlight: number;
  failedCount: number;
}

interface Ticket {
  resolve: (transition: OutboxTransition) => void;
  reject: (error: unknown) => void;
}

export interface DurableOutboxOptions {
  store: OutboxStore;
  /** Resolves when this engine may load the stored outbox (no other engine is using it). */
  turn: Promise<void>;
  report: (event: SyncEvent, error?: unknown) => void;
}

/**
 * The durable outbox: the only writer of the {@link Outbox}. Every change is a command on one
 * stream, held until the stored outbox has loaded, applied in order by `dedupe` and written
 * behind by `persist`. A write's promise settles when its batch is durable (or failed), and
 * an item becomes ready to send only then.
 */
export class DurableOutbox implements PushQueue {
  /** Resolves once the stored outbox has been loaded (or could not be). */
  readonly loaded: Promise<void>;
  /** Resolves once every command accepted before `close()` has been stored. */
  readonly drained: Promise<void>;
  /** Items leaving the queue. */
  readonly settled$: Observable<Settled>;
  /** Emits when items may have become ready to send. */
  readonly ready$: Observable<void>;
  /** The queue, once per stored batch; the dead letters, whenever they change. */
  readonly queue$: Observable<readonly SyncItem[]>;
  readonly failed$: Observable<readonly SyncItem[]>;
  readonly counts$: Observable<OutboxCounts>;
  /** Emits once when `clear` has been applied. */
  readonly cleared$: Observable<void>;
  /** Emits when someone asked for the queue to be sent now (`nudge()`). */
  readonly nudged$: Observable<void>;

  readonly #outbox = new Outbox();
  readonly #commands = new Subject<OutboxCommand>();
  readonly #tickets = new Map<OutboxCommand, Ticket>();
  readonly #settled = new Subject<Settled>();
  readonly #stored = new BehaviorSubject<void>(undefined);
  readonly #nudges = new Subject<void>();
  readonly #changed = new BehaviorSubject<void>(undefined);
  readonly #counts: BehaviorSubject<OutboxCounts>;
  readonly #cleared = new Subject<void>();
  /** Commands waiting for the stored outbox to load. */
  readonly #held = new Set<OutboxCommand>();
  #isLoaded = false;
  #markLoaded!: () => void;
  #closed = false;

  readonly #options: DurableOutboxOptions;

  constructor(options: DurableOutboxOptions) {
    this.#options = options;
    this.#counts = new BehaviorSubject(this.#currentCounts());
    this.settled$ = this.#settled.asObservable();
    this.counts$ = this.#counts.asObservable();
    this.cleared$ = this.#cleared.asObservable();
    this.nudged$ = this.#nudges.asObservable();
    this.ready$ = merge(this.#stored, this.#nudges).pipe(map(() => undefined));
    this.queue$ = this.#stored.pipe(map(() => this.#outbox.items()), distinctUntilChanged());
    this.failed$ = this.#changed.pipe(map(() => this.#outbox.failedItems()), distinctUntilChanged());

    const load$ = defer(() => this.#load()).pipe(shareReplay(1));
    let drained!: () => void;
    this.drained = new Promise((resolve) => (drained = resolve));
    this.loaded = new Promise((resolve) => (this.#markLoaded = resolve));
    merge(
      load$,
      // Commands that arrive before the stored outbox is loaded wait for it, in order.
      this.#commands.pipe(
        holdUntil(load$),
        tap((command) => this.#held.delete(command)),
      ),
    )
      .pipe(
        dedupe({ outbox: this.#outbox }),
        tap((transition) => this.#applied(transition)),
        persist((batch) =>
          this.#options.store.write(
            batch.flatMap((t) => t.changes),
            this.#outbox.size + this.#outbox.failedCount + this.#outbox.idAssignmentCount,
            () => ({ queue: this.#outbox.items(), failed: this.#outbox.failedItems(), ids: this.#outbox.idAssignments() }),
            batch.flatMap((t) => t.assignments ?? []),
          ),
        ),
      )
      .subscribe({ next: (batch) => this.#persisted(batch), complete: () => drained() });
  }

  /** Queued writes, counting those waiting for the stored outbox to load. */
  get size(): number {
    return this.#outbox.size + this.#held.size;
  }

  get(id: string): SyncItem | undefined {
    return this.#outbox.get(id);
  }

  /** See {@link Outbox.mayReplay}. */
  mayReplay(id: string): boolean {
    return this.#outbox.mayReplay(id);
  }

  /** The queued writes of one record, in send order. */
  pendingFor(entity: string, id: string | number): SyncItem[] {
    return this.#outbox.pendingFor(entity, id);
  }

  items(): readonly SyncItem[] {
    return this.#outbox.items();
  }

  /** Applies a command in turn; its effect becomes durable with the batch it lands in. */
  dispatch(command: OutboxCommand): void {
    if (this.#closed) return;
    if (this.#isLoaded || command.type !== 'enqueue') {
      this.#commands.next(command);
      return;
    }
    this.#held.add(command);
    this.#commands.next(command);
    this.#publish();
  }

  /** Applies a command and resolves once it is durable (rejects when storage refused it). */
  dispatchDurably(command: OutboxCommand): Promise<OutboxTransition> {
    if (this.#closed) {
      return Promise.reject(new SyncInputError('[rxsync] The engine was destroyed first, so this changed nothing in its outbox. Create a new engine to go on.'));
    }
    return new Promise((resolve, reject) => {
      this.#tickets.set(command, { resolve, reject });
      this.dispatch(command);
    });
  }

  /** Makes `ready$` emit: something asks for the ready items to be sent now. */
  nudge(): void {
    this.#nudges.next();
  }

  /** {@link dispatchDurably}, as the pusher calls it. */
  commit(command: OutboxCommand): Promise<OutboxTransition> {
    return this.dispatchDurably(command);
  }

  /** The next ready items, at most `limit`, marked in flight. */
  take(limit: number): SyncItem[] {
    const items = this.#outbox.take(limit);
    if (items.length > 0) this.#publish();
    return items;
  }

  /**
   * Resolves once every item of `ids` has left the queue (`complete`), or when `stop$` emits
   * first, with how many were delivered and how many became dead letters.
   */
  async whenSettled(ids: ReadonlySet<string>, stop$: Observable<unknown>): Promise<{ complete: boolean; pushed: number; errors: number }> {
    const left = new Set(ids);
    const counts = { pushed: 0, errors: 0 };
    const complete = await firstValueFrom(
      this.settled$.pipe(
        filter(({ id }) => left.delete(id)),
        tap(({ outcome }) => {
          if (outcome === 'pushed') counts.pushed++;
          if (outcome === 'failed') counts.errors++;
        }),
        filter(() => left.size === 0),
        map(() => true),
        takeUntil(stop$),
      ),
      { defaultValue: false },
    );
    return { complete, ...counts };
  }

  /** Ends the command stream: what is in it still lands in storage, then `drained` resolves. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#commands.complete();
    void this.drained.then(() => {
      for (const subject of [this.#settled, this.#stored, this.#nudges, this.#changed, this.#counts, this.#cleared]) subject.complete();
    });
  }

  async #load(): Promise<OutboxCommand> {
    await this.#options.turn;
    const loaded = await this.#options.store.load();
    for (const problem of loaded.problems) {
      this.#options.report({ type: 'storage-error', error: problem.error.message, key: problem.key, keptAs: problem.keptAs }, problem.error);
    }
    return { type: 'load', queue: loaded.queue, failed: loaded.failed, ids: loaded.ids };
  }

  #applied({ command }: OutboxTransition): void {
    if (command.type === 'load') this.#isLoaded = true;
    // Counts first: whatever reacts to this command (a cleared delivery) sees the outbox as it is now.
    this.#publish();
    if (command.type === 'clear') this.#cleared.next();
  }

  #persisted({ values, error }: PersistedBatch<OutboxTransition>): void {
    const dropped = error ? this.#outbox.rollback(values) : [];
    if (!error) this.#outbox.persisted(values);
    // Every item this batch took out of the queue and that is still out (a failed batch's rollback
    // puts some back, while acks, dead letters and clears stand as facts about delivery) has settled.
    for (const { command, changes } of values) {
      for (const change of changes) {
        if (change.list !== 'queue' || change.item || this.#outbox.get(change.id)) continue;
        const outcome = command.type === 'ack' ? 'pushed' : command.type === 'dead-letter' ? 'failed' : 'dropped';
        this.#settled.next({ id: change.id, outcome, ...(change.previous ? { item: change.previous } : {}) });
      }
    }
    this.#publish();
    this.#stored.next();
    const refused = new Map(values.flatMap(({ changes }) => changes.flatMap(({ item }) => (item ? [[item.id, item] as const] : []))));
    for (const id of dropped) this.#settled.next({ id, outcome: 'dropped', ...(refused.has(id) ? { item: refused.get(id) } : {}) });
    if (error) {
      const storageError =
        error instanceof SyncStorageError ? error : new SyncStorageError(`[rxsync] Storage failed: ${describeError(error)}`, undefined, error);
      this.#options.report({ type: 'storage-error', error: storageError.message }, storageError);
      for (const transition of values) this.#takeTicket(transition)?.reject(storageError);
    } else {
      for (const transition of values) this.#takeTicket(transition)?.resolve(transition);
    }
    if (values.some(({ command }) => command.type === 'load')) this.#markLoaded();
  }

  #takeTicket(transition: OutboxTransition): Ticket | undefined {
    const ticket = this.#tickets.get(transition.command);
    this.#tickets.delete(transition.command);
    return ticket;
  }

  #currentCounts(): OutboxCounts {
    return {
      queueLength: this.size,
      inFlight: this.#outbox.inFlightCount,
      failedCount: this.#outbox.failedCount,
    };
  }

  /**
   * Shows the outbox as it stands, after every command: `failed$` first, so a status saying
   * "1 dead letter" is never ahead of it. `queue$` follows the stored batches instead (see
   * `persisted`): copying the queue costs O(queue), once per batch rather than once per write.
   */
  #publish(): void {
    this.#changed.next();
    this.#counts.next(this.#currentCounts());
  }
}

/**
 * Holds values until `open$` first emits, then lets them through in order, and every later
 * value at once (without `delayWhen`'s subscription per value once open).
 */
function holdUntil<T>(open$: Observable<unknown>): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let held: T[] | undefined = [];
      let sourceDone = false;
      subscriber.add(
        open$.pipe(take(1)).subscribe(() => {
          const release = held ?? [];
          held = undefined;
          for (const value of release) subscriber.next(value);
          if (sourceDone) subscriber.complete();
        }),
      );
      subscriber.add(
        source.subscribe({
          next: (value) => (held ? held.push(value) : subscriber.next(value)),
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            sourceDone = true;
            if (!held) subscriber.complete();
          },
        }),
      );
    });
}

