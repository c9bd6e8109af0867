import { asyncScheduler, BehaviorSubject, filter, firstValueFrom, map, merge, type Observable, of, ReplaySubject, type SchedulerLike, Subject, type Subscription, switchMap, throttleTime, timer } from 'rxjs';
import type { OutboxClaim } from '../outboxHandover.js';
import { recordIdOf } from '../recordFields.js';
import type { PulledBatch, SyncEvent, SyncItem, SyncStatusInfo, SyncStorage } from '../types.js';
import { EpochFence, NotLeaderError } from './epochFence.js';
import { electLeader, type Leadership, type TabLocks } from './leadership.js';
import { isTabMessage, type TabChannel, type TabMessage, type TabRequest, type TabState } from './tabMessages.js';

const STATE_EVERY_MS = 50;

/** What the leading tab serves the others from: its engine's streams and a way to run their requests. */
export interface TabHost {
  run(request: TabRequest): Promise<unknown>;
  queue$: Observable<TabState['queue']>;
  failed$: Observable<TabState['failed']>;
  status$: Observable<SyncStatusInfo>;
  events$: Observable<SyncEvent>;
  pulled$: Observable<PulledBatch>;
}

export interface TabSessionOptions {
  /** The outbox's name (database + storageKey): names the lock and the channel. */
  name: string;
  locks: TabLocks;
  channel: TabChannel;
  storage: SyncStorage;
  /** Storage key of the epoch counter. */
  epochKey: string;
  /** How long a request may go unanswered before this tab takes the lead from a silent leader. */
  takeoverMs: number;
  scheduler?: SchedulerLike;
}

interface Pending {
  request: TabRequest;
  received: boolean;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * This tab's place in the outbox shared by every tab: it follows the leading tab (forwards its
 * requests to it and mirrors what it shows) until it leads itself, then serves the others.
 * A request is re-sent whenever the lead changes, until a leader answers it; the outbox holds
 * each write once whatever the number of copies, since a write keeps its id.
 */
export class TabSession {
  /** Resolves when this tab leads and has claimed the newest epoch: it may load the outbox. */
  readonly leading: Promise<void>;
  /** Resolves if the lead was taken from this tab; it follows from then on. */
  readonly deposed: Promise<void>;
  /** True while this tab leads. */
  readonly leads$: Observable<boolean>;
  /** The shared outbox, as the leader last showed it. */
  readonly state$: Observable<TabState>;
  /** The leader's events and pulled batches. */
  readonly events$: Observable<SyncEvent>;
  readonly pulled$: Observable<PulledBatch>;

  readonly #id = `tab-${Math.random().toString(36).slice(2)}-${Date.now().toString(36)}`;
  readonly #leadership: Leadership;
  readonly #fence: EpochFence;
  readonly #leads = new BehaviorSubject(false);
  readonly #state = new ReplaySubject<TabState>(1);
  readonly #events = new Subject<SyncEvent>();
  readonly #pulled = new Subject<PulledBatch>();
  readonly #pending = new Map<string, Pending>();
  readonly #host = new BehaviorSubject<TabHost | undefined>(undefined);
  #serving: Subscription | undefined;
  #leader: string | undefined;
  #leaderEpoch = 0;
  /** What this tab, leading, last told the others of its state (told again to a tab that says hello). */
  #told: Partial<TabState> = {};
  /** What this tab, following, has heard of the leader's state so far. */
  #heardOf: Partial<TabState> = {};
  readonly #outgoing: TabMessage[] = [];
  #count = 0;
  #takeover: Subscription | undefined;
  #askedAgain = false;
  #depose!: () => void;
  #closed = false;

  readonly #options: TabSessionOptions;

  constructor(options: TabSessionOptions) {
    this.#options = options;
    this.#leadership = electLeader(options.locks, options.name);
    this.#fence = new EpochFence(options.storage, options.epochKey);
    this.leads$ = this.#leads.asObservable();
    this.state$ = this.#state.asObservable();
    this.events$ = this.#events.asObservable();
    this.pulled$ = this.#pulled.asObservable();
    this.leading = this.#leadership.leading.then(() => this.#fence.claim());
    this.deposed = new Promise((resolve) => (this.#depose = resolve));

    options.channel.addEventListener('message', ({ data }) => {
      if (!this.#closed && isTabMessage(data)) this.#heard(data);
    });
    void this.leading.then(() => this.#lead());
    void this.#leadership.deposed.then(() => this.#follow());
    this.#post({ type: 'hello', from: this.#id });
  }

  /** True while this tab leads. */
  get leads(): boolean {
    return this.#leads.value;
  }

  /** True while another tab leads: this one forwards its writes and calls. */
  get follows(): boolean {
    return !this.#closed && !this.#leads.value;
  }

  /** This tab's turn at the outbox, as a lone engine's hand-over gives it: when it leads. */
  claim(): OutboxClaim {
    return { ready: this.leading, waiting$: of(false), release: (drained) => this.release(drained) };
  }

  /** Resolves when there is an outbox to show: `loaded` here, or the leader's first word. */
  ready(loaded: Promise<void>): Promise<void> {
    return Promise.race([loaded, firstValueFrom(this.state$, { defaultValue: undefined }).then(() => undefined)]);
  }

  /** `here$` while this tab leads, else what the leader shows (`there` picks it from its state). */
  shown<T>(here$: Observable<T>, there: (state: TabState) => T): Observable<T> {
    return this.leads$.pipe(switchMap((leads) => (leads ? here$ : this.state$.pipe(map(there)))));
  }

  /** The status to show: this tab's own while it leads, the leader's otherwise; `leader` says which. */
  status(here$: Observable<SyncStatusInfo>): Observable<SyncStatusInfo> {
    return this.shown(
      here$.pipe(map((status): SyncStatusInfo => ({ ...status, leader: true }))),
      (state) => ({ ...state.status, leader: false }),
    );
  }

  /** The queued writes of a record, as the leader last showed them. */
  pendingFor(entity: string, id: string | number): SyncItem[] {
    return (this.#heardOf.queue ?? []).filter((item) => item.entity === entity && String(recordIdOf(item.data)) === String(id));
  }

  /** The queue's length, as the leader last showed it. */
  get queueLength(): number {
    return this.#heardOf.queue?.length ?? 0;
  }

  /**
   * Connects this tab's engine: what the leader says reaches it (events, pulled batches), and
   * once it leads and has loaded the outbox it serves the other tabs; if it loses the lead, `stop`.
   */
  connect(engine: TabHost & { loaded: Promise<void>; heard(event: SyncEvent): void; relay(batch: PulledBatch): void; stop(): void }): void {
    this.events$.subscribe((event) => engine.heard(event));
    this.pulled$.subscribe((batch) => engine.relay(batch));
    void engine.loaded.then(() => this.serve(engine));
    void this.deposed.then(() => engine.stop());
  }

  /** Rejects once another tab has taken the lead from this one; call right before each storage write. */
  fence(): Promise<void> {
    return this.#fence.check().catch((error: unknown) => {
      if (error instanceof NotLeaderError) this.#follow();
      throw error;
    });
  }

  /** Runs a request on the shared outbox: here while this tab leads, else at the leader. */
  request(request: TabRequest): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('[rxsync] This engine was destroyed; create a new one to keep writing.'));
    const id = `${this.#id}:${++this.#count}`;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { request, received: false, resolve, reject });
      this.#send(id);
    });
  }

  /** Serves the other tabs from `host` while this tab leads. */
  serve(host: TabHost): void {
    if (!this.leads || this.#closed) return;
    const from = this.#id;
    // Each part crosses only when it changed; the lists (whole, cloned) at most every STATE_EVERY_MS, the last one always.
    const lists = { leading: true, trailing: true };
    const scheduler = this.#options.scheduler ?? asyncScheduler;
    const parts$ = merge(
      host.queue$.pipe(throttleTime(STATE_EVERY_MS, scheduler, lists), map((queue) => ({ queue }))),
      host.failed$.pipe(throttleTime(STATE_EVERY_MS, scheduler, lists), map((failed) => ({ failed }))),
      host.status$.pipe(map((status) => ({ status }))),
    );
    this.#serving = parts$.subscribe((part) => {
      this.#told = { ...this.#told, ...part };
      this.#post({ type: 'state', from, state: part });
    });
    this.#serving.add(host.events$.subscribe((event) => this.#post({ type: 'event', from, event })));
    this.#serving.add(host.pulled$.subscribe((batch) => this.#post({ type: 'pulled', from, batch })));
    this.#host.next(host);
  }

  /** Leaves the outbox: the lock goes (to the next tab) once `drained` has settled. */
  release(drained: Promise<unknown>): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#takeover?.unsubscribe();
    this.#serving?.unsubscribe();
    for (const pending of this.#pending.values()) pending.reject(new Error('[rxsync] The engine was destroyed before the leading tab answered.'));
    this.#pending.clear();
    this.#leadership.release(drained);
    void drained.finally(() => this.#options.channel.close());
    for (const subject of [this.#leads, this.#state, this.#events, this.#pulled, this.#host]) subject.complete();
  }

  #lead(): void {
    if (this.#closed) return;
    this.#leader = this.#id;
    this.#leads.next(true);
    this.#post({ type: 'leader', from: this.#id, epoch: this.#fence.epoch });
    // What this tab asked of the old leader and got no answer to, it now does itself.
    for (const id of this.#pending.keys()) this.#send(id);
  }

  #follow(): void {
    if (!this.#leads.value) return;
    this.#serving?.unsubscribe();
    this.#host.next(undefined);
    this.#leader = undefined;
    this.#leads.next(false);
    this.#depose();
    this.#post({ type: 'hello', from: this.#id });
  }

  #send(id: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    if (this.leads) {
      this.#serveHere(pending.request).then(
        (value) => {
          this.#pending.delete(id);
          pending.resolve(value);
        },
        (error: unknown) => {
          if (error instanceof NotLeaderError) return this.#send(id);
          this.#pending.delete(id);
          pending.reject(error);
        },
      );
      return;
    }
    pending.received = false;
    // Not knowing who leads (just deposed, say), ask: the leader answers with its state.
    if (this.#leader === undefined) this.#post({ type: 'hello', from: this.#id });
    this.#post({ type: 'request', from: this.#id, id, request: pending.request });
    this.#armTakeover();
  }

  /**
   * A request nobody acknowledges within `takeoverMs` is asked again, with a hello (a leader
   * may have missed it, say while it was starting); unacknowledged once more, the leader is
   * frozen or gone, and this tab takes the lead.
   */
  #armTakeover(): void {
    if (this.#takeover && !this.#takeover.closed) return;
    this.#takeover = timer(this.#options.takeoverMs, this.#options.scheduler).subscribe(() => {
      this.#takeover = undefined;
      const unheard = [...this.#pending].filter(([, pending]) => !pending.received);
      if (unheard.length === 0 || this.leads) {
        this.#askedAgain = false;
        return;
      }
      if (this.#askedAgain) {
        this.#leadership.takeOver();
        return;
      }
      this.#askedAgain = true;
      this.#post({ type: 'hello', from: this.#id });
      for (const [id] of unheard) this.#send(id);
    });
  }

  #heard(message: TabMessage): void {
    switch (message.type) {
      case 'batch':
        for (const each of message.messages) if (isTabMessage(each)) this.#heard(each);
        return;
      case 'hello':
        if (!this.leads) return;
        this.#post({ type: 'leader', from: this.#id, epoch: this.#fence.epoch });
        this.#post({ type: 'state', from: this.#id, state: this.#told });
        return;
      case 'leader':
        // The lock says who leads, not a message; the epoch tells a stale leader, waking up, from its successor.
        if (this.leads || message.epoch <= this.#leaderEpoch) return;
        this.#leader = message.from;
        this.#leaderEpoch = message.epoch;
        for (const id of this.#pending.keys()) this.#send(id);
        return;
      case 'request':
        if (this.leads) this.#serveRequest(message.from, message.id, message.request);
        return;
      case 'received': {
        const pending = this.#pending.get(message.id);
        if (!pending || message.to !== this.#id) return;
        pending.received = true;
        this.#askedAgain = false;
        return;
      }
      case 'reply': {
        const pending = this.#pending.get(message.id);
        if (!pending || message.to !== this.#id) return;
        this.#pending.delete(message.id);
        if (message.error === undefined) pending.resolve(message.value);
        else pending.reject(new Error(message.error));
        return;
      }
      default:
        // Only the leader's word counts: a deposed tab that wakes up may still talk for a moment.
        if (this.leads || message.from !== this.#leader) return;
        if (message.type === 'state') this.#sawPart(message.state);
        else if (message.type === 'event') this.#events.next(message.event);
        else this.#pulled.next(message.batch);
    }
  }

  #serveRequest(from: string, id: string, request: TabRequest): void {
    this.#post({ type: 'received', to: from, id });
    this.#serveHere(request).then(
      (value) => this.#post({ type: 'reply', to: from, id, value }),
      (error: unknown) => {
        // Lost the lead meanwhile: say nothing, and the follower re-sends to the new leader.
        if (error instanceof NotLeaderError) return;
        this.#post({ type: 'reply', to: from, id, error: error instanceof Error ? error.message : String(error) });
      },
    );
  }

  /** A follower shows the leader's state once it has heard every part of it. */
  #sawPart(part: Partial<TabState>): void {
    this.#heardOf = { ...this.#heardOf, ...part };
    const { queue, failed, status } = this.#heardOf;
    if (queue && failed && status) this.#state.next({ queue, failed, status });
  }

  /** Runs a request on this tab's engine, once it serves (it loads the outbox first). */
  async #serveHere(request: TabRequest): Promise<unknown> {
    // Run at once when serving, so a burst of requests lands in one stored batch.
    const host = this.#host.value ?? await firstValueFrom(
      merge(
        this.#host.pipe(filter((host): host is TabHost => host !== undefined)),
        this.#leads.pipe(
          filter((leads) => !leads),
          map(() => undefined),
        ),
      ),
      { defaultValue: undefined },
    );
    if (!host) throw new NotLeaderError(this.#options.epochKey);
    return host.run(request);
  }

  /** Says it in this turn's batch: a burst of a thousand writes crosses as one message. */
  #post(message: TabMessage): void {
    if (this.#closed) return;
    this.#outgoing.push(message);
    if (this.#outgoing.length === 1) queueMicrotask(() => this.#flushOutgoing());
  }

  #flushOutgoing(): void {
    const messages = this.#outgoing.splice(0);
    if (this.#closed || messages.length === 0) return;
    // Something that cannot be cloned (an app record holding a function) is not worth a crash:
    // then each message alone, so only that one is lost; followers catch up with the next state.
    if (!this.#postNow(messages.length === 1 ? messages[0] : { type: 'batch', messages }) && messages.length > 1) {
      for (const message of messages) this.#postNow(message);
    }
  }

  /** Posts at once; false when the message could not be sent. */
  #postNow(message: TabMessage): boolean {
    try {
      this.#options.channel.postMessage(message);
      return true;
    } catch {
      return false;
    }
  }
}
