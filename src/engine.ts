import {
  BehaviorSubject,
  catchError,
  defer,
  distinctUntilChanged,
  filter,
  firstValueFrom,
  from,
  map,
  merge,
  mergeMap,
  type Observable,
  of,
  ReplaySubject,
  share,
  Subject,
  switchMap,
  take,
  takeUntil,
  tap,
  throwError,
} from 'rxjs';
import { defaultStorage } from './defaultStorage.js';
import { describeError, isTransientStatus, preview, SyncConflictError, SyncHttpError, SyncInputError, SyncStorageError } from './errors.js';
import { browserOnline$ } from './onlineManager.js';
import { holdOutboxLock } from './outboxLock.js';
import { Outbox, type OutboxCommand, type OutboxTransition } from './outbox.js';
import { versionOf } from './recordVersion.js';
import { OutboxStore } from './outboxStore.js';
import { dedupe } from './operators/dedupe.js';
import { persist, type PersistedBatch } from './operators/persist.js';
import { resolveConflict, type ResolvedConflict } from './operators/resolveConflict.js';
import { retryBackoff } from './operators/retryBackoff.js';
import { whenOnline } from './operators/whenOnline.js';
import { Puller } from './puller.js';
import { requestLimiter } from './requestLimiter.js';
import { track } from './telemetry.js';
import type {
  Conflict,
  ConflictResolution,
  SyncEngine,
  SyncEngineOptions,
  SyncEvent,
  SyncItem,
  SyncOperation,
  SyncResult,
  SyncStatusInfo,
  SyncWrite,
  TransportResponse,
} from './types.js';
import { validateWrite } from './validateWrite.js';
import { WriteSubject } from './writeSubject.js';

/**
 * Engines destroyed while their last writes were still being stored, by storage and key.
 * A new engine on the same storage loads only after those writes have landed: otherwise it
 * would not see them, and its own log segments (same sequence numbers) would overwrite
 * them, losing writes whose write() had already resolved.
 */
const draining = new WeakMap<object, Map<string, Promise<void>>>();
/** Stands for "no storage given" (each engine then makes its own default one on the same database). */
const DEFAULT_STORAGE = {};

/** How a delivery ended. */
type Outcome = { kind: 'pushed'; status: number; body?: unknown } | { kind: 'failed'; error: string };
interface Delivered {
  item: SyncItem;
  outcome: Outcome;
}

interface Ticket {
  resolve: (transition: OutboxTransition) => void;
  reject: (error: unknown) => void;
}

/** What `flush()` waits for: each item of the queue it saw leaving it, and how. */
interface Settled {
  id: string;
  outcome: 'pushed' | 'failed' | 'dropped';
  /** The server answered 409 on the way. */
  conflict: boolean;
}

/**
 * Creates a sync engine: an outbox fed by `writes$` / `write()`, persisted, flushed while
 * online with backoff and conflict resolution, and a checkpointed pull. See DESIGN.md §2.
 *
 * @example
 * ```ts
 * import { createSyncEngine, httpTransport } from 'rxsync';
 *
 * const engine = createSyncEngine({
 *   entities: { todos: { endpoint: '/todos', conflictStrategy: 'last-write-wins' } },
 *   transport: httpTransport({ baseUrl: 'https://api.example.com' }),
 *   onPull: async (entity, items) => store.merge(entity, items),
 * });
 * engine.status$.subscribe((s) => console.log(s.status, s.queueLength));
 * engine.writes$.next({ entity: 'todos', operation: 'create', data: { id: '1', title: 'milk' } });
 * ```
 */
export function createSyncEngine<E extends string>(options: SyncEngineOptions<E>): SyncEngine<E> {
  return new Engine(options);
}

class Engine<E extends string> implements SyncEngine<E> {
  readonly writes$: WriteSubject;
  readonly status$: Observable<SyncStatusInfo>;
  readonly queue$: Observable<readonly SyncItem[]>;
  readonly failed$: Observable<readonly SyncItem[]>;
  readonly conflicts$: Observable<ResolvedConflict>;
  readonly pulled$: Observable<{ entity: E; items: unknown[] }>;
  readonly events$: Observable<SyncEvent>;
  readonly ready: Promise<void>;

  readonly #options: SyncEngineOptions<E>;
  readonly #outbox = new Outbox();
  readonly #store: OutboxStore;
  readonly #storageOwner: object;
  readonly #storageKey: string;
  #drained!: () => void;
  /** Resolves once everything accepted before destroy() is in storage. */
  readonly #drain = new Promise<void>((resolve) => (this.#drained = resolve));
  /** The previous engines on this storage that were still storing when destroyed. */
  readonly #previousDrain: Promise<unknown> | undefined;
  readonly #entityNames: E[];
  readonly #maxRetries: number;
  readonly #window: number;
  readonly #batchSize: number;
  readonly #now: () => number;
  readonly #createId: () => string;
  readonly #source: string;

  readonly #status = new BehaviorSubject<SyncStatusInfo>({
    status: 'offline',
    online: false,
    queueLength: 0,
    inFlight: 0,
    failedCount: 0,
  });
  readonly #outboxChanged = new BehaviorSubject<void>(undefined);
  readonly #conflicts = new Subject<ResolvedConflict>();
  readonly #pulled = new Subject<{ entity: E; items: unknown[] }>();
  readonly #events = new Subject<SyncEvent>();
  readonly #commands = new Subject<OutboxCommand>();
  readonly #settled = new Subject<Settled>();
  readonly #kick = new Subject<void>();
  readonly #cleared = new Subject<void>();
  readonly #destroyed$ = new ReplaySubject<void>(1);
  readonly #online$: Observable<boolean>;
  readonly #limit: <T>(request$: Observable<T>) => Observable<T>;
  readonly #puller: Puller<E>;

  readonly #tickets = new Map<OutboxCommand, Ticket>();
  readonly #conflicted = new Set<string>();
  /** Commands that arrive before the stored outbox is loaded; they are applied after it. */
  #early: OutboxCommand[] | undefined = [];
  #online = false;
  #pulling = 0;
  #destroyed = false;
  #lastSyncAt?: string;
  #lastError?: string;
  #nextRetryAt?: string;

  constructor(options: SyncEngineOptions<E>) {
    this.#options = options;
    this.#entityNames = Object.keys(options.entities) as E[];
    this.#maxRetries = options.maxRetries ?? 5;
    const concurrency = Math.max(1, options.concurrency ?? 4);
    this.#batchSize = options.transport.pushBatch ? Math.max(1, options.batchSize ?? 1) : 1;
    this.#window = concurrency * 4 * this.#batchSize;
    this.#limit = requestLimiter(concurrency);
    this.#now = options.now ?? (() => options.scheduler?.now() ?? Date.now());
    this.#createId = options.createId ?? defaultId;
    this.#source = options.productId ?? 'rxsync';
    this.#storageOwner = options.storage ?? DEFAULT_STORAGE;
    this.#storageKey = options.storageKey ?? 'rxsync';
    this.#store = new OutboxStore(options.storage ?? defaultStorage(), this.#storageKey);
    this.#previousDrain = draining.get(this.#storageOwner)?.get(this.#storageKey);

    this.status$ = this.#status.asObservable();
    this.queue$ = this.#outboxChanged.pipe(map(() => this.#outbox.items()), distinctUntilChanged());
    this.failed$ = this.#outboxChanged.pipe(map(() => this.#outbox.failedItems()), distinctUntilChanged());
    this.conflicts$ = this.#conflicts.asObservable();
    this.pulled$ = this.#pulled.asObservable();
    this.events$ = this.#events.asObservable();
    this.#online$ = (options.online$ ?? browserOnline$()).pipe(
      distinctUntilChanged(),
      takeUntil(this.#destroyed$),
      share({ connector: () => new ReplaySubject(1), resetOnRefCountZero: true }),
    );

    this.#puller = new Puller({
      entities: options.entities,
      transport: options.transport,
      store: this.#store,
      now: this.#now,
      stop$: this.#destroyed$,
      apply: (entity, items) => this.#applyPulled(entity, items),
      report: (event, error) => {
        this.#emit(event);
        if (error !== undefined) this.#fail(error);
      },
    });
    this.writes$ = new WriteSubject((write) => this.#accept(write));
    this.#runOutbox();
    this.#runFlush();
    this.#online$.subscribe((online) => {
      this.#online = online;
      this.#updateStatus();
    });
    this.ready = this.#load();
  }

  // ── input ────────────────────────────────────────────────────────────────────────────

  async write(write: SyncWrite): Promise<SyncItem> {
    if (this.#destroyed) {
      throw new SyncInputError('[rxsync] write() was called after destroy(). Create a new engine to keep writing.', write);
    }
    const command: OutboxCommand = { type: 'enqueue', item: this.#toItem(validateWrite(write, this.#entityNames)) };
    const transition = await this.#dispatchDurably(command);
    return transition.item ?? command.item;
  }

  async push(entity: E, data: unknown, operation: SyncOperation = 'create'): Promise<void> {
    await this.write({ entity, operation, data });
  }

  async delete(entity: E, id: string | number): Promise<void> {
    await this.write({ entity, operation: 'delete', data: { id } });
  }

  /** A write from `writes$`: no one to reject, so a bad one is reported and dropped. */
  #accept(write: unknown): void {
    try {
      if (write instanceof SyncInputError) throw write;
      if (this.#destroyed) throw new SyncInputError('[rxsync] A write arrived on writes$ after destroy(); it was dropped.', write);
      this.#dispatch({ type: 'enqueue', item: this.#toItem(validateWrite(write, this.#entityNames)) });
    } catch (error) {
      this.#emit({ type: 'input-dropped', write, error: describeError(error) });
      this.#fail(error);
    }
  }

  #toItem(write: SyncWrite): SyncItem {
    return { id: this.#createId(), ...write, timestamp: new Date(this.#now()).toISOString(), retryCount: 0 };
  }

  // ── the outbox: one stream of commands, one reducer, one writer ───────────────────────

  #dispatch(command: OutboxCommand): void {
    if (this.#early) this.#early.push(command);
    else this.#commands.next(command);
  }

  #dispatchDurably(command: OutboxCommand): Promise<OutboxTransition> {
    if (this.#destroyed) return Promise.reject(destroyedError());
    return new Promise((resolve, reject) => {
      this.#tickets.set(command, { resolve, reject });
      this.#dispatch(command);
    });
  }

  #runOutbox(): void {
    this.#commands
      .pipe(
        dedupe({ outbox: this.#outbox }),
        tap((transition) => this.#applied(transition)),
        persist((batch) =>
          this.#store.write(
            batch.flatMap((t) => t.changes),
            this.#outbox.size + this.#outbox.failedCount,
            () => ({ queue: this.#outbox.items(), failed: this.#outbox.failedItems() }),
          ),
        ),
      )
      .subscribe({ next: (batch) => this.#persisted(batch), complete: () => this.#drained() });
  }

  #applied(transition: OutboxTransition): void {
    const { command } = transition;
    if (command.type === 'clear') this.#cleared.next();
    for (const change of transition.changes) {
      if (change.list !== 'queue' || change.item) continue;
      const outcome = command.type === 'ack' ? 'pushed' : command.type === 'dead-letter' ? 'failed' : 'dropped';
      this.#settled.next({ id: change.id, outcome, conflict: this.#conflicted.delete(change.id) });
    }
    this.#outboxChanged.next();
    this.#updateStatus();
  }

  #persisted({ values, error }: PersistedBatch<OutboxTransition>): void {
    if (error) {
      for (const id of this.#outbox.rollback(values)) this.#settled.next({ id, outcome: 'dropped', conflict: false });
      const storageError =
        error instanceof SyncStorageError ? error : new SyncStorageError(`[rxsync] Storage failed: ${describeError(error)}`, undefined, error);
      this.#emit({ type: 'storage-error', error: storageError.message });
      this.#fail(storageError);
      for (const transition of values) this.#takeTicket(transition)?.reject(storageError);
      this.#outboxChanged.next();
    } else {
      this.#outbox.persisted(values);
      for (const transition of values) this.#takeTicket(transition)?.resolve(transition);
    }
    this.#updateStatus();
    this.#kick.next();
  }

  #takeTicket(transition: OutboxTransition): Ticket | undefined {
    const ticket = this.#tickets.get(transition.command);
    this.#tickets.delete(transition.command);
    return ticket;
  }

  async #load(): Promise<void> {
    await holdOutboxLock(`rxsync:${this.#storageKey}`, this.#drain, () => {
      const error = new SyncStorageError(
        `[rxsync] Another tab or engine is using the outbox "${this.#storageKey}"; this engine waits until it is closed before loading, and its writes wait with it. Give each engine its own storageKey to run them side by side.`,
        this.#storageKey,
      );
      this.#emit({ type: 'storage-error', error: error.message, key: this.#storageKey });
      this.#fail(error);
    });
    await this.#previousDrain;
    const loaded = await this.#store.load().catch((error: unknown) => ({
      queue: [],
      failed: [],
      problems: [{ key: 'outbox', keptAs: undefined, error: new SyncStorageError(describeError(error), undefined, error) }],
    }));
    for (const problem of loaded.problems) {
      this.#emit({ type: 'storage-error', error: problem.error.message, key: problem.key, keptAs: problem.keptAs });
      this.#fail(problem.error);
    }
    const early = this.#early ?? [];
    this.#early = undefined;
    if (this.#destroyed) {
      for (const command of early) this.#tickets.get(command)?.reject(destroyedError());
      return;
    }
    this.#commands.next({ type: 'load', queue: loaded.queue, failed: loaded.failed });
    for (const command of early) this.#commands.next(command);
    this.#kick.next();
  }

  // ── flush: ready items out, outcomes back in as commands ──────────────────────────────

  #runFlush(): void {
    merge(this.#kick, this.#online$.pipe(filter((online) => online)))
      .pipe(
        whenOnline(this.#online$, { hold: 'latest' }),
        mergeMap(() => {
          const items = this.#outbox.take(this.#window - this.#outbox.inFlightCount);
          if (items.length > 0) this.#updateStatus();
          // Items of an entity no longer configured go alone: #deliver dead-letters them with the reason.
          const known = items.filter((item) => item.entity in this.#options.entities);
          const unknown = items.filter((item) => !(item.entity in this.#options.entities));
          return from([...chunk(known, this.#batchSize), ...unknown.map((item) => [item])]);
        }),
        // A clear drops every item, in flight or not: their deliveries stop, requests are aborted.
        mergeMap((batch) => (batch.length === 1 ? this.#deliver(batch[0]) : this.#deliverBatch(batch)).pipe(takeUntil(this.#cleared))),
        takeUntil(this.#destroyed$),
      )
      .subscribe(({ item, outcome }) => {
        if (outcome.kind === 'pushed') {
          this.#lastError = undefined;
          this.#nextRetryAt = undefined;
          this.#emit({ type: 'pushed', item, status: outcome.status, body: outcome.body });
          this.#dispatch({ type: 'ack', id: item.id, version: versionOf(outcome.body) });
        } else {
          const failed = this.#outbox.get(item.id) ?? item;
          this.#emit({ type: 'dead-lettered', item: { ...failed, lastError: outcome.error }, error: outcome.error });
          this.#lastError = outcome.error;
          this.#dispatch({ type: 'dead-letter', id: item.id, error: outcome.error });
        }
      });
  }

  /** Sends one item until it is delivered, resolved as a conflict, or given up on. */
  #deliver(item: SyncItem): Observable<Delivered> {
    const endpoint = this.#options.entities[item.entity as E]?.endpoint;
    if (endpoint === undefined) {
      return of({
        item,
        outcome: {
          kind: 'failed',
          error: `[rxsync] Entity "${item.entity}" is not configured any more, so this write cannot be sent. Add it back to options.entities and call reprocessFailed(), or clear it.`,
        },
      });
    }
    const request = { item, endpoint };
    return this.#retrying([item], this.#options.transport.push(request).pipe(tap((response) => throwIfTransient(item, response)))).pipe(
      mergeMap((response) => this.#handle(item, response)),
      catchError((error: unknown) => of(this.#gaveUp(item, error))),
    );
  }

  /**
   * Sends several items in one request. The request as a whole is retried like a single
   * push; then each item's own answer is handled on its own: a transient one goes back to
   * single delivery, so one bad item never fails the others. A server without a usable
   * batch endpoint gets the items one by one.
   */
  #deliverBatch(items: readonly SyncItem[]): Observable<Delivered> {
    const requests = items.map((item) => ({ item, endpoint: this.#options.entities[item.entity as E].endpoint }));
    return this.#retrying(items, this.#options.transport.pushBatch!(requests)).pipe(
      mergeMap((responses) => from(items.map((item, i) => ({ item, response: responses[i] })))),
      mergeMap(({ item, response }) => (isTransientStatus(response.status) ? this.#deliver(item) : this.#handle(item, response))),
      catchError((error: unknown) =>
        error instanceof SyncHttpError && !error.transient
          ? from(items).pipe(mergeMap((item) => this.#deliver(item)))
          : from(items.map((item) => this.#gaveUp(item, error))),
      ),
    );
  }

  /** A non-transient answer to a push: delivered, refused, or a conflict to resolve. */
  #handle(item: SyncItem, response: TransportResponse): Observable<Delivered> {
    const entity = this.#options.entities[item.entity as E];
    if (response.status !== 409) return of({ item, outcome: this.#outcomeOf(item, response) });
    this.#conflicted.add(item.id);
    const conflict: Conflict = { entity: item.entity, localItem: item, remoteData: response.body };
    return of(conflict).pipe(
      resolveConflict({ strategy: entity.conflictStrategy ?? 'server-wins', onConflict: this.#options.onConflict }),
      mergeMap((resolved) => this.#applyResolution(resolved, entity.endpoint)),
      map((outcome) => ({ item, outcome })),
    );
  }

  #gaveUp(item: SyncItem, error: unknown): Delivered {
    return {
      item,
      outcome: {
        kind: 'failed',
        error: `[rxsync] Gave up on ${describeItem(item)} after ${this.#maxRetries} retries. Last error: ${unprefixed(error)} It stays in failed$; call reprocessFailed() to try again.`,
      },
    };
  }

  /**
   * A request with retries: waits for online before each attempt and for a free place among
   * `concurrency` requests; transient failures back off. Each retry counts for every item.
   */
  #retrying<T>(items: readonly SyncItem[], request$: Observable<T>, countRetries = true): Observable<T> {
    return this.#online$.pipe(
      filter((online) => online),
      take(1),
      switchMap(() => this.#limit(request$)),
      catchError((error: unknown) =>
        throwError(() =>
          error instanceof SyncHttpError
            ? error
            : new SyncHttpError(`[rxsync] Network error sending ${describeItems(items)}: ${unprefixed(error)}`, 0),
        ),
      ),
      retryBackoff({
        maxRetries: this.#maxRetries,
        retriesUsed: Math.max(...items.map((item) => this.#outbox.get(item.id)?.retryCount ?? item.retryCount)),
        baseDelayMs: this.#options.retryBaseDelayMs ?? 1000,
        maxDelayMs: this.#options.retryMaxDelayMs ?? 30_000,
        jitter: this.#options.retryJitter ?? 0.2,
        scheduler: this.#options.scheduler,
        onRetry: ({ error, attempt, delayMs }) => {
          const message = describeError(error);
          this.#lastError = message;
          this.#nextRetryAt = new Date(this.#now() + delayMs).toISOString();
          for (const item of items) {
            this.#emit({ type: 'retried', item, attempt, delayMs, error: message });
            if (countRetries) this.#dispatch({ type: 'retried', id: item.id, error: message });
          }
          this.#updateStatus();
        },
      }),
    );
  }

  #outcomeOf(item: SyncItem, { status, body }: TransportResponse): Outcome {
    if ((status >= 200 && status < 300) || (status === 404 && item.operation === 'delete')) return { kind: 'pushed', status, body };
    const detail = body === undefined ? '' : `: ${preview(body, 200)}`;
    return {
      kind: 'failed',
      error: `[rxsync] The server refused ${describeItem(item)} with ${status}${detail}. Fix the data and call reprocessFailed(), or clear it.`,
    };
  }

  #applyResolution(resolved: ResolvedConflict, endpoint: string): Observable<Outcome> {
    const { localItem: item, resolution } = resolved;
    this.#conflicts.next(resolved);
    this.#emit({ type: 'conflict', conflict: withoutResolution(resolved), resolution });
    switch (resolution.outcome) {
      case 'server-wins':
        // A 409 without a body leaves nothing to hand on; the local write is dropped all the same.
        if (resolved.remoteData === undefined) return of<Outcome>({ kind: 'pushed', status: 409 });
        const settled: Outcome = { kind: 'pushed', status: 409, body: resolved.remoteData };
        return defer(() => this.#applyPulled(item.entity as E, [resolved.remoteData])).pipe(
          catchError((error: unknown) => {
            this.#callbackFailed('onPull', error);
            return of(undefined);
          }),
          map(() => settled),
        );
      case 'client-wins': {
        // A new idempotency key: the original one is now bound to the 409 answer.
        const overwrite: SyncItem = { ...item, id: `${item.id}:put`, data: resolution.data };
        const request = { item: overwrite, endpoint, overwrite: true };
        return this.#retrying([item], this.#options.transport.push(request).pipe(tap((r) => throwIfTransient(overwrite, r))), false).pipe(
          map((response): Outcome => {
            if (response.status !== 409) return this.#outcomeOf(overwrite, response);
            const error = new SyncConflictError(
              `[rxsync] ${describeItem(item)} still conflicts after the client-wins re-send; kept as a dead letter.`,
              response.body,
            );
            return { kind: 'failed', error: error.message };
          }),
        );
      }
      case 'error':
        return of<Outcome>({ kind: 'failed', error: resolution.error });
    }
  }

  async #applyPulled(entity: E, items: unknown[]): Promise<void> {
    await this.#options.onPull?.(entity, items);
    this.#pulled.next({ entity, items });
  }

  // ── public actions ─────────────────────────────────────────────────────────────────────

  async flush(): Promise<SyncResult> {
    const result = await this.#flushOnce();
    this.#complete(result);
    return result;
  }

  async #flushOnce(): Promise<SyncResult> {
    await this.ready;
    const ids = new Set(this.#outbox.items().map((item) => item.id));
    if (this.#destroyed || !this.#online) return this.#result({ success: false });
    if (ids.size === 0) return this.#result({ success: true });
    const counts = { pushed: 0, errors: 0, conflicts: 0 };
    const stopped$ = merge(this.#destroyed$, this.#online$.pipe(filter((online) => !online)));
    const done$ = this.#settled.pipe(
      filter(({ id }) => ids.delete(id)),
      tap(({ outcome, conflict }) => {
        if (conflict) counts.conflicts++;
        if (outcome === 'pushed') counts.pushed++;
        if (outcome === 'failed') counts.errors++;
      }),
      filter(() => ids.size === 0),
      map(() => true),
      takeUntil(stopped$),
    );
    const promise = firstValueFrom(done$, { defaultValue: false });
    this.#kick.next();
    const complete = await promise;
    return this.#result({ success: complete && counts.errors === 0, ...counts });
  }

  async pull(): Promise<SyncResult> {
    const pulled = await this.#pullOnce();
    this.#complete(pulled);
    return pulled;
  }

  async #pullOnce(): Promise<SyncResult> {
    await this.ready;
    if (this.#destroyed || !this.#online) return this.#result({ success: false });
    this.#pulling++;
    this.#updateStatus();
    try {
      const { pulled, errors } = await this.#puller.pull();
      return this.#result({ success: errors === 0, pulled, errors });
    } finally {
      this.#pulling--;
      this.#updateStatus();
    }
  }

  async fullSync(): Promise<SyncResult> {
    await this.ready;
    if (this.#destroyed || !this.#online) {
      this.#updateStatus();
      const offline = this.#result({ success: false });
      this.#complete(offline);
      return offline;
    }
    const pushed = await this.#flushOnce();
    const pulled = await this.#pullOnce();
    const synced = this.#result({
      success: pushed.success && pulled.success,
      pushed: pushed.pushed,
      pulled: pulled.pulled,
      conflicts: pushed.conflicts,
      errors: pushed.errors + pulled.errors,
    });
    this.#complete(synced);
    return synced;
  }

  async clearQueue(): Promise<void> {
    await this.#dispatchDurably({ type: 'clear' });
  }

  async reprocessFailed(): Promise<void> {
    await this.#dispatchDurably({ type: 'requeue' });
    await this.flush();
  }

  getStatus(): SyncStatusInfo {
    return this.#status.value;
  }

  getQueueLength(): number {
    return this.#outbox.size;
  }

  onStatusChange(callback: (status: SyncStatusInfo) => void): () => void {
    const subscription = this.status$.subscribe((status) => {
      try {
        callback(status);
      } catch (error) {
        this.#callbackFailed('onStatusChange', error);
      }
    });
    return () => subscription.unsubscribe();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#destroyed$.next();
    this.#destroyed$.complete();
    this.writes$.end();
    // The command stream ends after what is already in it: writes accepted so far still land in storage,
    // and an engine started on the same storage meanwhile loads only once they have.
    const stores = draining.get(this.#storageOwner) ?? new Map<string, Promise<void>>();
    draining.set(this.#storageOwner, stores);
    const drain: Promise<void> = Promise.all([this.#previousDrain, this.#drain]).then(() => {
      if (stores.get(this.#storageKey) === drain) stores.delete(this.#storageKey);
    });
    stores.set(this.#storageKey, drain);
    this.#commands.complete();
    for (const subject of [this.#status, this.#outboxChanged, this.#conflicts, this.#pulled, this.#events, this.#settled, this.#kick, this.#cleared]) {
      subject.complete();
    }
  }

  // ── status and events ──────────────────────────────────────────────────────────────────

  #updateStatus(): void {
    if (this.#destroyed) return;
    const outbox = this.#outbox;
    const online = this.#online;
    const status = !online ? 'offline' : outbox.size > 0 || this.#pulling > 0 ? 'syncing' : outbox.failedCount > 0 ? 'error' : 'idle';
    const current = this.#status.value;
    // Called on every command: compare before building anything.
    if (
      current.status === status &&
      current.online === online &&
      current.queueLength === outbox.size &&
      current.inFlight === outbox.inFlightCount &&
      current.failedCount === outbox.failedCount &&
      current.lastSyncAt === this.#lastSyncAt &&
      current.lastError === this.#lastError &&
      current.nextRetryAt === this.#nextRetryAt
    ) {
      return;
    }
    const next: SyncStatusInfo = { status, online, queueLength: outbox.size, inFlight: outbox.inFlightCount, failedCount: outbox.failedCount };
    if (this.#lastSyncAt !== undefined) next.lastSyncAt = this.#lastSyncAt;
    if (this.#lastError !== undefined) next.lastError = this.#lastError;
    if (this.#nextRetryAt !== undefined) next.nextRetryAt = this.#nextRetryAt;
    this.#status.next(next);
  }

  /** A SyncResult stamped with the engine's clock. */
  #result(partial: Partial<SyncResult> & { success: boolean }): SyncResult {
    return { pushed: 0, pulled: 0, conflicts: 0, errors: 0, ...partial, timestamp: new Date(this.#now()).toISOString() };
  }

  #complete(syncResult: SyncResult): void {
    if (syncResult.success) this.#lastSyncAt = syncResult.timestamp;
    this.#emit({ type: 'sync-complete', result: syncResult });
    this.#updateStatus();
  }

  #fail(error: unknown): void {
    this.#lastError = describeError(error);
    this.#updateStatus();
  }

  #emit(event: SyncEvent): void {
    if (this.#destroyed) return;
    this.#events.next(event);
    if (this.#options.telemetryClient) {
      const error = track(this.#options.telemetryClient, this.#source, event);
      if (error) this.#events.next({ type: 'callback-error', callback: 'telemetryClient', error: describeError(error) });
    }
  }

  #callbackFailed(callback: 'onPull' | 'onConflict' | 'onStatusChange', error: unknown): void {
    this.#emit({ type: 'callback-error', callback, error: `[rxsync] ${callback} threw: ${describeError(error)}` });
  }
}

function describeItems(items: readonly SyncItem[]): string {
  return items.length === 1 ? describeItem(items[0]) : `a batch of ${items.length} writes`;
}

function throwIfTransient(item: SyncItem, response: TransportResponse): void {
  if (isTransientStatus(response.status)) {
    throw new SyncHttpError(
      `[rxsync] The server answered ${response.status} to ${describeItem(item)}, a transient failure.`,
      response.status,
      response.body,
      response.retryAfterMs,
    );
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function describeItem(item: SyncItem): string {
  const id = (item.data as { id?: unknown }).id;
  return `the ${item.operation} of ${item.entity}${id === undefined ? '' : ` "${String(id)}"`}`;
}

function unprefixed(error: unknown): string {
  return describeError(error).replace(/^\[rxsync\] /, '');
}

function withoutResolution({ resolution: _resolution, ...conflict }: Conflict & { resolution: ConflictResolution }): Conflict {
  return conflict;
}

function destroyedError(): SyncInputError {
  return new SyncInputError('[rxsync] The engine was destroyed before this write was queued; it was not stored.');
}

function defaultId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // Pages served over plain http (not localhost) have no randomUUID.
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
