import { BehaviorSubject, filter, from, map, merge, type Observable, ReplaySubject, Subject, takeUntil } from 'rxjs';
import { defaultStorage, defaultStorageIsDurable, memoryStorageNotice } from './browser/defaultStorage.js';
import { browserOnline$ } from './browser/browserOnline.js';
import { DurableOutbox } from './durableOutbox.js';
import { coalesceRuns } from './operators/coalesceRuns.js';
import { type ResolvedOptions, resolveOptions } from './engineOptions.js';
import { describeError, SyncInputError } from './errors.js';
import type { ResolvedConflict } from './operators/resolveConflict.js';
import { claimOutbox } from './outboxHandover.js';
import { OutboxStore } from './outboxStore.js';
import { Puller } from './puller.js';
import { pullTriggers$ } from './pullTriggers.js';
import { Pusher } from './pusher.js';
import { onlineSignal$, status$ } from './status.js';
import { NotLeaderError } from './tabs/epochFence.js';
import { joinTabs } from './tabs/joinTabs.js';
import type { TabCall, TabState } from './tabs/tabMessages.js';
import type { TabSession } from './tabs/tabSession.js';
import { track } from './telemetry.js';
import type { PulledBatch, SyncEngine, SyncEngineOptions, SyncEvent, SyncItem, SyncOperation, SyncResult, SyncStatusInfo, SyncWrite } from './types.js';
import { validateWrite } from './validateWrite.js';
import { WriteSubject } from './writeSubject.js';

/**
 * Creates a sync engine: an outbox fed by `writes$` / `write()`, persisted, flushed while
 * online with backoff and conflict resolution, and a checkpointed pull.
 *
 * @example
 * ```ts
 * import { createSyncEngine, httpTransport } from 'rxsync';
 *
 * const engine = createSyncEngine({
 *   entities: { todos: { endpoint: '/todos', conflictStrategy: 'last-write-wins' } },
 *   transport: httpTransport({ baseUrl: 'https://api.example.com' }),
 *   onPull: async (entity, items) => console.log(entity, items),
 * });
 * engine.status$.subscribe((s) => console.log(s.status, s.queueLength));
 * engine.writes$.next({ entity: 'todos', operation: 'create', data: { id: '1', title: 'milk' } });
 * ```
 */
export function createSyncEngine<E extends string>(options: SyncEngineOptions<E>): SyncEngine<E> {
  return new Engine(options);
}

/**
 * The engine is wiring: it makes the parts and connects their streams. A write enters through
 * `write()` / `writes$` into the {@link DurableOutbox}; the {@link Pusher} sends what is ready
 * and its outcomes go back into the outbox as commands; the {@link Puller} brings remote
 * changes; status is derived from all of their streams.
 */
class Engine<E extends string> implements SyncEngine<E> {
  readonly writes$: WriteSubject;
  readonly status$: Observable<SyncStatusInfo>;
  readonly queue$: Observable<readonly SyncItem[]>;
  readonly failed$: Observable<readonly SyncItem[]>;
  readonly conflicts$: Observable<ResolvedConflict>;
  readonly pulled$: Observable<PulledBatch<E>>;
  readonly events$: Observable<SyncEvent>;
  readonly ready: Promise<void>;

  readonly #options: ResolvedOptions<E>;
  readonly #outbox: DurableOutbox;
  readonly #puller: Puller<E>;
  readonly #status: BehaviorSubject<SyncStatusInfo>;
  readonly #events = new Subject<SyncEvent>();
  readonly #destroyed$ = new ReplaySubject<void>(1);
  readonly #release: (drained: Promise<unknown>) => void;
  /** Set when tabs share the outbox: this tab's place in it. */
  readonly #tabs: TabSession | undefined;
  #destroyed = false;

  constructor(options: SyncEngineOptions<E>) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    const storage = options.storage ?? defaultStorage();
    // Where tabs share the outbox, this tab loads it only while it leads, and shows the leader's otherwise.
    const tabs = (this.#tabs = joinTabs(resolved, storage));
    const store = new OutboxStore(storage, resolved.storageKey, tabs && (() => tabs.fence()));
    const claim = tabs?.claim() ?? claimOutbox(storage, resolved.storageKey, () => this.#outbox.drained, (event) => this.#emit(event));
    this.#outbox = new DurableOutbox({ store, turn: claim.ready, report: (event) => this.#emit(event) });
    this.#release = claim.release;
    this.ready = tabs?.ready(this.#outbox.loaded) ?? this.#outbox.loaded;
    const stop$ = tabs ? merge(this.#destroyed$, from(tabs.deposed)) : this.#destroyed$;
    const shown = <T>(here$: Observable<T>, there: (state: TabState) => T): Observable<T> => tabs?.shown(here$, there) ?? here$;
    // Said once loaded, so that subscribers added right after construction hear it.
    if (!options.storage && !defaultStorageIsDurable()) void this.ready.then(() => this.#emit(memoryStorageNotice()));

    const online$ = onlineSignal$(options.online$ ?? browserOnline$(), this.#destroyed$);
    this.#puller = new Puller({
      entities: options.entities,
      transport: options.transport,
      store,
      stop$: this.#destroyed$,
      onPull: options.onPull,
      pendingFor: (entity, id) => this.#outbox.pendingFor(entity, id),
      readYourWrites: options.readYourWrites !== false,
      storage,
      storageKey: resolved.storageKey,
      report: (event) => this.#emit(event),
    });
    const pusher = new Pusher({ ...resolved, online$ });

    this.events$ = this.#events.asObservable();
    this.queue$ = shown(this.#outbox.queue$, (state) => state.queue);
    this.failed$ = shown(this.#outbox.failed$, (state) => state.failed);
    this.pulled$ = this.#puller.pulled$;
    this.conflicts$ = this.events$.pipe(
      filter((event) => event.type === 'conflict'),
      map(({ conflict, resolution }) => ({ ...conflict, resolution })),
    );
    // Status hears of every change before anything acts on it: subscribed before the pusher.
    this.#status = new BehaviorSubject<SyncStatusInfo>({ status: 'offline', online: false, queueLength: 0, inFlight: 0, failedCount: 0 });
    this.status$ = this.#status.asObservable();
    const here = new BehaviorSubject<SyncStatusInfo>(this.#status.value);
    status$({
      online: online$,
      outbox: this.#outbox.counts$,
      waiting: claim.waiting$,
      pulling: this.#puller.pulling$,
      nextRetryAt: pusher.nextRetryAt$,
      events: this.events$,
    })
      .pipe(takeUntil(this.#destroyed$))
      .subscribe(here);
    (tabs?.status(here) ?? here)
      .pipe(takeUntil(this.#destroyed$))
      .subscribe((status) => this.#status.next(status));

    pusher
      .push$(this.#outbox)
      .pipe(takeUntil(stop$))
      .subscribe(({ event, command, record }) => {
        // An answer to a write sent before (by an engine before this one, or a requeued dead
        // letter) may replay an older state of the record: not handed over. The app gets back
        // what that write hid (its overlay's base), and a change it made comes with the next pull.
        const replay = event.type === 'pushed' && this.#outbox.mayReplay(event.item.id);
        this.#emit(event);
        if (command) this.#outbox.dispatch(command);
        // The server's answer is the record's new state: the app gets it as a pull would give it.
        // A write sent before may already be in the base (the server replays it) or not (the next
        // pull brings it): moving the base on by it could put its older fields back over newer ones.
        if (replay) this.#puller.writesEnded(event.item.entity as E, record?.data ?? event.item.data);
        else if (record) this.#puller.hand(record.entity as E, record.data);
        else if (event.type === 'pushed' && event.status < 300) this.#puller.acceptedWithoutAnswer(event.item.entity as E, event.item);
      });
    // Writes that left without an answer for the app (dead letters, clears…) give back what they hid.
    this.#outbox.settled$.pipe(takeUntil(this.#destroyed$)).subscribe(({ item }) => {
      if (item) this.#puller.writesEnded(item.entity as E, item.data);
    });
    // Only the engine that loaded the outbox (the leading tab) hands back, and stores, what writes hid.
    void this.#outbox.loaded.then(() => this.#puller.sweep());

    pullTriggers$({
      autoPull: resolved.autoPull,
      // A tab that comes to lead the shared outbox pulls once it loaded it, as an engine does on start.
      loaded: this.#outbox.loaded,
      online$,
      events$: this.events$,
      counts$: this.#outbox.counts$,
      poke$: options.poke$,
      scheduler: resolved.scheduler,
      report: (event) => this.#emit(event),
    })
      .pipe(
        filter(() => this.#canSync() && !this.#follows()),
        coalesceRuns(() => this.#puller.pull().catch(() => undefined)),
        takeUntil(stop$),
      )
      .subscribe();

    this.writes$ = new WriteSubject((write) => this.#accept(write));
    tabs?.connect({
      // What other tabs ask of the shared outbox, run here while this tab leads.
      run: (request) => (request.kind === 'write' ? this.#enqueue(request.item) : this[request.call]()),
      queue$: this.#outbox.queue$,
      failed$: this.#outbox.failed$,
      status$: this.status$,
      events$: this.events$,
      pulled$: this.#puller.pulled$,
      loaded: this.#outbox.loaded,
      heard: (event) => this.#events.next(event),
      relay: (batch) => this.#puller.relay(batch as PulledBatch<E>),
      // A tab that lost the lead stops sending and storing; its outbox's last batch still settles.
      stop: () => this.#outbox.close(),
    });
  }

  #follows(): boolean {
    return this.#tabs?.follows === true;
  }

  /** Runs `call` at the leading tab. */
  #ask<T>(call: TabCall): Promise<T> {
    return this.#tabs!.request({ kind: 'call', call }) as Promise<T>;
  }

  // ── input: the one way in ──────────────────────────────────────────────────────────────

  async write(write: SyncWrite<E>): Promise<SyncItem> {
    if (this.#destroyed) {
      throw new SyncInputError('[rxsync] write() was called after destroy(). Create a new engine to keep writing.', write);
    }
    return this.#enqueue(this.#toItem(write));
  }

  /** Queues an item durably: here, or at the leading tab. */
  async #enqueue(item: SyncItem): Promise<SyncItem> {
    if (this.#follows()) return (await this.#tabs!.request({ kind: 'write', item })) as SyncItem;
    try {
      const transition = await this.#outbox.dispatchDurably({ type: 'enqueue', item });
      return transition.item ?? item;
    } catch (error) {
      // The lead was taken meanwhile: the new leader queues it (once: the write keeps its id).
      if (error instanceof NotLeaderError) return this.#enqueue(item);
      throw error;
    }
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
      const item = this.#toItem(write);
      // A shared outbox may change hands before the write is stored: it needs the durable path.
      if (this.#tabs) void this.#enqueue(item).catch(() => undefined);
      else this.#outbox.dispatch({ type: 'enqueue', item });
    } catch (error) {
      this.#emit({ type: 'input-dropped', write, error: describeError(error) });
    }
  }

  #toItem(write: unknown): SyncItem {
    const valid = validateWrite(write, this.#options.entityNames);
    return { id: this.#options.createId(), ...valid, timestamp: new Date(this.#options.now()).toISOString(), retryCount: 0 };
  }

  // ── public actions ─────────────────────────────────────────────────────────────────────

  async flush(): Promise<SyncResult> {
    if (this.#follows()) return this.#ask('flush');
    return this.#completed(await this.#flushOnce());
  }

  async #flushOnce(): Promise<SyncResult> {
    await this.ready;
    const ids = new Set(this.#outbox.items().map((item) => item.id));
    if (!this.#canSync()) return this.#result({ success: false });
    if (ids.size === 0) return this.#result({ success: true });
    const conflicted = new Set<string>();
    const conflicts = this.conflicts$.subscribe(({ localItem }) => ids.has(localItem.id) && conflicted.add(localItem.id));
    const stop$ = merge(this.#destroyed$, this.status$.pipe(filter((status) => !status.online)), this.events$.pipe(filter((event) => event.type === 'auth-required')));
    const settled = this.#outbox.whenSettled(ids, stop$);
    this.#outbox.nudge();
    const { complete, pushed, errors } = await settled;
    conflicts.unsubscribe();
    return this.#result({ success: complete && errors === 0, pushed, errors, conflicts: conflicted.size });
  }

  async pull(): Promise<SyncResult> {
    if (this.#follows()) return this.#ask('pull');
    return this.#completed(await this.#pullOnce());
  }

  async #pullOnce(): Promise<SyncResult> {
    await this.ready;
    if (!this.#canSync()) return this.#result({ success: false });
    const { pulled, errors } = await this.#puller.pull();
    return this.#result({ success: errors === 0, pulled, errors });
  }

  async fullSync(): Promise<SyncResult> {
    if (this.#follows()) return this.#ask('fullSync');
    await this.ready;
    if (!this.#canSync()) return this.#completed(this.#result({ success: false }));
    const pushed = await this.#flushOnce();
    const { pulled, errors } = await this.#pullOnce();
    const success = pushed.success && errors === 0;
    return this.#completed(this.#result({ success, pushed: pushed.pushed, conflicts: pushed.conflicts, pulled, errors: pushed.errors + errors }));
  }

  async clearQueue(): Promise<void> {
    if (this.#follows()) return this.#ask('clearQueue');
    await this.#outbox.dispatchDurably({ type: 'clear' });
  }

  async reprocessFailed(): Promise<void> {
    if (this.#follows()) return this.#ask('reprocessFailed');
    await this.#outbox.dispatchDurably({ type: 'requeue' });
    await this.flush();
  }

  pendingFor(entity: E, id: string | number): readonly SyncItem[] {
    return this.#follows() ? this.#tabs!.pendingFor(entity, id) : this.#outbox.pendingFor(entity, id);
  }

  getStatus(): SyncStatusInfo {
    return this.#status.value;
  }

  getQueueLength(): number {
    return this.#follows() ? this.#tabs!.queueLength : this.#outbox.size;
  }

  onStatusChange(callback: (status: SyncStatusInfo) => void): () => void {
    const subscription = this.status$.subscribe((status) => {
      try {
        callback(status);
      } catch (error) {
        this.#emit({ type: 'callback-error', callback: 'onStatusChange', error: `[rxsync] onStatusChange threw: ${describeError(error)}` });
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
    // What the outbox already accepted still lands in storage; the next engine on it waits for that.
    this.#outbox.close();
    this.#release(this.#outbox.drained);
    this.#puller.close();
    for (const subject of [this.#status, this.#events]) subject.complete();
  }

  // ── results and events ─────────────────────────────────────────────────────────────────

  #canSync(): boolean {
    return !this.#destroyed && this.#status.value.online;
  }

  /** A SyncResult stamped with the engine's clock. */
  #result(partial: Partial<SyncResult> & { success: boolean }): SyncResult {
    return { pushed: 0, pulled: 0, conflicts: 0, errors: 0, ...partial, timestamp: new Date(this.#options.now()).toISOString() };
  }

  #completed(result: SyncResult): SyncResult {
    this.#emit({ type: 'sync-complete', result });
    return result;
  }

  #emit(event: SyncEvent): void {
    if (this.#destroyed) return;
    this.#events.next(event);
    const client = this.#options.telemetryClient;
    const error = client && track(client, this.#options.productId, event);
    if (error) this.#events.next({ type: 'callback-error', callback: 'telemetryClient', error: describeError(error) });
  }
}
