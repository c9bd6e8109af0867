import { type BehaviorSubject, from, merge, type Observable, ReplaySubject, takeUntil } from 'rxjs';
import { environmentDefaults } from './browser/defaults.js';
import { DurableOutbox } from './durableOutbox.js';
import { resolveOptions } from './engineOptions.js';
import { EngineEvents } from './engineEvents.js';
import type { ResolvedConflict } from './operators/resolveConflict.js';
import { claimOutbox } from './outboxHandover.js';
import { OutboxStore } from './outboxStore.js';
import { Puller } from './puller.js';
import { autoPulls$ } from './pullTriggers.js';
import { Pusher } from './pusher.js';
import { currentStatus, onlineSignal$ } from './status.js';
import { SyncRuns } from './syncRuns.js';
import { joinTabs } from './tabs/joinTabs.js';
import { OutboxRoute } from './tabs/outboxRoute.js';
import type { PulledBatch, SyncEngine, SyncEngineOptions, SyncEvent, SyncItem, SyncOperation, SyncResult, SyncStatusInfo, SyncWrite } from './types.js';
import { WriteIntake } from './writeIntake.js';
import type { WriteSubject } from './writeSubject.js';

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

  readonly #intake: WriteIntake;
  readonly #events: EngineEvents;
  readonly #outbox: DurableOutbox;
  /** Where writes and calls go: this engine's outbox, or the leading tab's. */
  readonly #route: OutboxRoute;
  readonly #puller: Puller<E>;
  readonly #runs: SyncRuns;
  readonly #status: BehaviorSubject<SyncStatusInfo>;
  readonly #destroyed$ = new ReplaySubject<void>(1);
  readonly #release: (drained: Promise<unknown>) => void;
  #destroyed = false;

  constructor(options: SyncEngineOptions<E>) {
    const resolved = resolveOptions(options);
    const events = (this.#events = new EngineEvents(resolved.telemetryClient, resolved.productId));
    const emit = (event: SyncEvent): void => events.emit(event);
    const { storage, online$: connectivity$, notice } = environmentDefaults(options);
    // Where tabs share the outbox, this tab loads it only while it leads, and shows the leader's otherwise.
    const tabs = joinTabs(resolved, storage);
    const store = new OutboxStore(storage, resolved.storageKey, tabs && (() => tabs.fence()));
    const claim = tabs?.claim() ?? claimOutbox(storage, resolved.storageKey, () => this.#outbox.drained, emit);
    const outbox = (this.#outbox = new DurableOutbox({ store, turn: claim.ready, report: emit }));
    this.#route = new OutboxRoute(tabs, outbox);
    this.#release = claim.release;
    this.ready = tabs?.ready(outbox.loaded) ?? outbox.loaded;
    const stop$ = tabs ? merge(this.#destroyed$, from(tabs.deposed)) : this.#destroyed$;
    // Said once loaded, so that subscribers added right after construction hear it.
    if (notice) void this.ready.then(() => emit(notice));

    const online$ = onlineSignal$(connectivity$, this.#destroyed$);
    const puller = (this.#puller = new Puller({
      ...resolved,
      onPull: options.onPull,
      store,
      storage,
      stop$: this.#destroyed$,
      pendingFor: (entity, id) => outbox.pendingFor(entity, id),
      report: emit,
    }));
    const pusher = new Pusher({ ...resolved, online$ });

    this.events$ = events.events$;
    this.conflicts$ = events.conflicts$;
    this.queue$ = tabs?.shown(outbox.queue$, (state) => state.queue) ?? outbox.queue$;
    this.failed$ = tabs?.shown(outbox.failed$, (state) => state.failed) ?? outbox.failed$;
    this.pulled$ = puller.pulled$;
    // Status hears of every change before anything acts on it: subscribed before the pusher.
    const statusInputs = { online: online$, outbox: outbox.counts$, waiting: claim.waiting$, pulling: puller.pulling$, nextRetryAt: pusher.nextRetryAt$, events: this.events$ };
    this.#status = currentStatus(statusInputs, (here$) => tabs?.status(here$) ?? here$, this.#destroyed$);
    this.status$ = this.#status.asObservable();

    // A write's one way out: the pusher's outcome, back into the outbox as a command.
    pusher
      .push$(outbox)
      .pipe(takeUntil(stop$))
      .subscribe((report) => {
        // (asked before the ack takes the write out of the outbox)
        const sentBefore = report.event.type === 'pushed' && outbox.mayReplay(report.event.item.id);
        emit(report.event);
        if (report.command) outbox.dispatch(report.command);
        puller.answered(report, sentBefore);
      });
    puller.follow(outbox);

    this.#runs = new SyncRuns({
      ready: this.ready,
      outbox,
      pull: () => puller.pull(),
      canSync: () => this.#canSync(),
      destroyed$: this.#destroyed$,
      status$: this.status$,
      events,
      now: resolved.now,
    });
    autoPulls$({
      autoPull: resolved.autoPull,
      // A tab that comes to lead the shared outbox pulls once it loaded it, as an engine does on start.
      loaded: outbox.loaded,
      online$,
      events$: this.events$,
      counts$: outbox.counts$,
      poke$: options.poke$,
      scheduler: resolved.scheduler,
      report: emit,
      canPull: () => this.#canSync() && !this.#route.follows,
      pull: () => puller.pull(),
    })
      .pipe(takeUntil(stop$))
      .subscribe();

    // A write's one way in.
    this.#intake = new WriteIntake({ ...resolved, route: this.#route, destroyed: () => this.#destroyed, report: emit });
    this.writes$ = this.#intake.writes$;
    tabs?.connect({
      // What other tabs ask of the shared outbox, run here while this tab leads.
      run: (request) => (request.kind === 'write' ? this.#route.enqueue(request.item) : this[request.call]()),
      queue$: outbox.queue$,
      failed$: outbox.failed$,
      status$: this.status$,
      events$: this.events$,
      pulled$: puller.pulled$,
      loaded: outbox.loaded,
      heard: (event) => events.relay(event),
      relay: (batch) => puller.relay(batch as PulledBatch<E>),
      // A tab that lost the lead stops sending and storing; its outbox's last batch still settles.
      stop: () => outbox.close(),
    });
  }

  // ── input: the one way in ──────────────────────────────────────────────────────────────

  write(write: SyncWrite<E>): Promise<SyncItem> {
    return this.#intake.write(write);
  }

  async push(entity: E, data: unknown, operation: SyncOperation = 'create'): Promise<void> {
    await this.write({ entity, operation, data });
  }

  async delete(entity: E, id: string | number): Promise<void> {
    await this.write({ entity, operation: 'delete', data: { id } });
  }

  // ── public actions: here, or at the leading tab ────────────────────────────────────────

  flush(): Promise<SyncResult> {
    return this.#route.call('flush', () => this.#runs.flush());
  }

  pull(): Promise<SyncResult> {
    return this.#route.call('pull', () => this.#runs.pull());
  }

  fullSync(): Promise<SyncResult> {
    return this.#route.call('fullSync', () => this.#runs.fullSync());
  }

  clearQueue(): Promise<void> {
    return this.#route.call('clearQueue', async () => {
      await this.#outbox.dispatchDurably({ type: 'clear' });
    });
  }

  reprocessFailed(): Promise<void> {
    return this.#route.call('reprocessFailed', async () => {
      await this.#outbox.dispatchDurably({ type: 'requeue' });
      await this.flush();
    });
  }

  pendingFor(entity: E, id: string | number): readonly SyncItem[] {
    return this.#route.pendingFor(entity, id);
  }

  getStatus(): SyncStatusInfo {
    return this.#status.value;
  }

  getQueueLength(): number {
    return this.#route.queueLength;
  }

  onStatusChange(callback: (status: SyncStatusInfo) => void): () => void {
    const subscription = this.status$.subscribe(this.#events.guard('onStatusChange', callback));
    return () => subscription.unsubscribe();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#events.mute();
    this.#destroyed$.next();
    this.#destroyed$.complete();
    this.writes$.end();
    // What the outbox already accepted still lands in storage; the next engine on it waits for that.
    this.#outbox.close();
    this.#release(this.#outbox.drained);
    this.#puller.close();
    this.#status.complete();
    this.#events.end();
  }

  #canSync(): boolean {
    return !this.#destroyed && this.#status.value.online;
  }
}
