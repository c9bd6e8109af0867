import type { Observable, SchedulerLike, Subject } from 'rxjs';
import type { PushOutcomeKind } from './classifyResponse.js';
import type { TabLocks } from './tabs/leadership.js';
import type { TabChannel } from './tabs/tabMessages.js';

/** What a write does to a record. */
export type SyncOperation = 'create' | 'update' | 'delete';

/**
 * One write handed to the engine. For `delete`, `data` is `{ id }`. `E` narrows `entity` to
 * the names configured in `options.entities`, so a misspelt entity does not compile.
 */
export interface SyncWrite<E extends string = string> {
  /** One of the names configured in `entities`. */
  entity: E;
  /** Create, update or delete the record. */
  operation: SyncOperation;
  /**
   * The record (for a create or update, the fields to change); plain JSON-compatible data,
   * copied when the write is accepted. Its `id` names the record; a `version` is sent as `If-Match`.
   */
  data: unknown;
}

/** A write as it sits in the outbox. */
export interface SyncItem extends SyncWrite {
  /** Stable for the item's whole life; sent as `Idempotency-Key` on every attempt. */
  id: string;
  /** When the write was made (ISO 8601); last-write-wins compares it with the server's `updatedAt`. */
  timestamp: string;
  /** Transient failures so far. */
  retryCount: number;
  /** Why the last attempt failed (also why a dead letter was given up on). */
  lastError?: string;
  /**
   * Set once a conflict was decided for the client: the item is sent as an overwrite (`PUT`)
   * under the key `{id}:put`, also after a restart.
   */
  overwrite?: boolean;
}

/**
 * How a 409 is settled: keep the server's record (`server-wins`), re-send the local change
 * over it (`client-wins`), compare the write's timestamp with the remote `updatedAt`
 * (`last-write-wins`), or ask `onConflict` (`manual`).
 */
export type ConflictStrategy = 'server-wins' | 'client-wins' | 'last-write-wins' | 'manual';

/** The server refused a write because it holds a different version of the record (HTTP 409). */
export interface Conflict {
  /** The entity of the record in conflict. */
  entity: string;
  /** The queued write the server refused. */
  localItem: SyncItem;
  /** The record as the server holds it (the 409's body). */
  remoteData: unknown;
}

/** What the engine did about a conflict, as shown on `conflicts$`. */
export type ConflictResolution =
  | { strategy: ConflictStrategy; outcome: 'server-wins' }
  | { strategy: ConflictStrategy; outcome: 'client-wins'; data: unknown }
  | { strategy: ConflictStrategy; outcome: 'error'; error: string };

/**
 * `waiting`: another engine or tab holds this outbox, and this one waits to load it (writes
 * are accepted and counted in `queueLength`); `offline`; `syncing`: writes queued or a pull
 * under way; `error`: only dead letters left; `idle`: nothing to do.
 */
export type SyncState = 'idle' | 'syncing' | 'error' | 'offline' | 'waiting';

/** What `status$` emits and `getStatus()` returns. */
export interface SyncStatusInfo {
  /** The state in one word. */
  status: SyncState;
  /** The last value of `online$`. */
  online: boolean;
  /** Writes in the outbox, in flight included, dead letters not. */
  queueLength: number;
  /** Requests under way. */
  inFlight: number;
  /** Dead letters: writes given up on, in `failed$`. */
  failedCount: number;
  /** When the last successful `flush()`, `pull()` or `fullSync()` finished (ISO 8601). */
  lastSyncAt?: string;
  /** The last problem worth showing (a failed attempt, a refused input, a storage error). */
  lastError?: string;
  /** When the next retry is due (ISO 8601), while one is waiting. */
  nextRetryAt?: string;
  /**
   * Set when tabs share the outbox (see the `tabs` option): true in the one tab that stores
   * and sends for all of them, false in the others, which show the leader's numbers.
   */
  leader?: boolean;
}

/** What `flush()`, `pull()` and `fullSync()` resolve with. */
export interface SyncResult {
  /** False when something was left undone: offline, a failed pull, new dead letters. */
  success: boolean;
  /** Writes delivered (or settled by a server-wins conflict). */
  pushed: number;
  /** Records pulled. */
  pulled: number;
  /** Conflicts met and resolved. */
  conflicts: number;
  /** Writes dead-lettered and entity pulls that failed. */
  errors: number;
  /** When the operation finished (ISO 8601, from the engine's clock). */
  timestamp: string;
}

/** Telemetry-grade events on `events$`; `type` tells them apart. */
export type SyncEvent =
  /** Delivered (or settled by a server-wins conflict: status 409, body = the server's record). */
  | {
      type: 'pushed';
      item: SyncItem;
      status: number;
      body?: unknown;
      /** Set when the server's answer needs a word, e.g. `'already gone'` for a delete answered 404. */
      reason?: string;
    }
  | { type: 'retried'; item: SyncItem; attempt: number; delayMs: number; error: string }
  | { type: 'dead-lettered'; item: SyncItem; error: string }
  | { type: 'conflict'; conflict: Conflict; resolution: ConflictResolution }
  | { type: 'pulled'; entity: string; count: number; checkpoint?: string }
  | { type: 'pull-failed'; entity: string; error: string }
  | { type: 'sync-complete'; result: SyncResult }
  | { type: 'input-dropped'; write: unknown; error: string }
  | { type: 'storage-error'; error: string; key?: string; keptAs?: string }
  | { type: 'callback-error'; callback: 'onPull' | 'onConflict' | 'onStatusChange' | 'telemetryClient' | 'poke$'; error: string }
  /**
   * The server gave a record created under the temporary id `tempId` the id `id` (an entity
   * with `serverIds`): queued writes of the record have moved onto `id`, and so will later
   * writes naming `tempId`. Comes before the server's record reaches `onPull`.
   */
  | { type: 'id-assigned'; entity: string; tempId: string | number; id: string | number }
  /**
   * The server answered `401` and `onUnauthorized` could not renew the credentials (it said
   * `false`, threw, timed out, or the server refused the renewed ones too): delivery is paused,
   * the writes stay queued, and `error` says why. `flush()` or a reconnect tries again.
   */
  | { type: 'auth-required'; error: string }
  /** Worth knowing, not a failure: e.g. that the outbox lives in memory because no durable storage was given. */
  | { type: 'notice'; message: string };

/** What `onUnauthorized` is told: the first write of a run of `401` answers. */
export interface UnauthorizedContext {
  /** The write the server refused. */
  item: SyncItem;
  /** The HTTP status: `401`. */
  status: number;
  /** The answer's body, as parsed. */
  body: unknown;
}

/** Per-entity settings. */
export interface EntityConfig {
  /** Path (or absolute URL) of the collection, e.g. `/todos`. */
  endpoint: string;
  /** Default `server-wins`. */
  conflictStrategy?: ConflictStrategy;
  /**
   * The server assigns record ids. A create goes out without its `data.id` (a temporary id the
   * app chose, or none); the id in the server's answer replaces the temporary one in every
   * queued write of the record, durably, and the app hears of it (an `id-assigned` event, then
   * the server's record through `onPull`). Writes the app still makes with the temporary id
   * are sent to the server's id (for the last 1000 assignments). Default `false`.
   */
  serverIds?: boolean;
}

/**
 * The storage the outbox lives in. A localforage instance fits as it is; so does
 * {@link memoryStorage}. Values are plain JSON-compatible data.
 */
export interface SyncStorage {
  /** The value stored under `key`, or `null` when there is none. */
  getItem<T>(key: string): Promise<T | null>;
  /** Stores `value` under `key`; resolves once it is durable. */
  setItem<T>(key: string, value: T): Promise<T>;
  /** Removes `key` (a missing key is not an error). */
  removeItem(key: string): Promise<void>;
  /** Every key in this store; the engine only touches the ones under its `storageKey`. */
  keys(): Promise<string[]>;
}

/** A server response as the engine sees it. */
export interface TransportResponse {
  /** The HTTP status. */
  status: number;
  /** The parsed JSON body, or `undefined` when there was none. */
  body: unknown;
  /** From a `Retry-After` header, in milliseconds. */
  retryAfterMs?: number;
  /** What the answer means for the write, when the transport decided it; else `classifyResponse` decides. */
  kind?: PushOutcomeKind;
  /** Why, in a few words for events and `lastError` (e.g. `'already gone'`, a redirect's Location). */
  reason?: string;
}

/** One queued write for the transport to send. */
export interface PushRequest {
  /** The write; its `id` is the idempotency key. */
  item: SyncItem;
  /** The entity's configured endpoint. */
  endpoint: string;
  /** `PUT` instead of the operation's own verb: a client-wins re-send. */
  overwrite?: boolean;
}

/** One page of a pull: what changed on the server since the checkpoint. */
export interface PullPage {
  /** The changed records (deleted ones as tombstones, as the server sends them). */
  items: unknown[];
  /** Where the next pull starts; kept by the engine once `onPull` has taken the items. */
  checkpoint?: string;
  /** True when more pages follow; the engine pulls again at once. */
  hasMore?: boolean;
  /**
   * JSON data the transport wants back on the next pull of this entity (e.g. the ids a
   * snapshot listing held, an `ETag`). Stored with the checkpoint once the page is applied;
   * `undefined` clears it.
   */
  state?: unknown;
}

/** What the engine asks a transport to pull. */
export interface PullRequest {
  /** The entity's name, as configured in `entities`. */
  entity: string;
  /** The entity's configured endpoint. */
  endpoint: string;
  /** The checkpoint of the last applied page; absent on the first pull. */
  since?: string;
  /** The `state` of the last applied page, as stored. */
  state?: unknown;
}

/**
 * How the engine talks to a server. Each call is cold (built on subscription, never throwing
 * when called) and aborts its request when unsubscribed. `push` emits the response for any
 * HTTP status and errors only when no response arrived (network failure) or, with a
 * `SyncInputError`, when the write cannot be sent at all; `pull` errors with a `SyncHttpError` on non-2xx.
 */
export interface SyncTransport {
  /** Sends one write. An answer without a numeric `status` makes the write a dead letter saying so. */
  push(request: PushRequest): Observable<TransportResponse>;
  /**
   * Optional: several pushes in one request, one response per request in the same order.
   * Errors (a `SyncHttpError`, or a network failure) only when the batch as a whole failed.
   * A write it gives no usable response for is sent again alone, under the same idempotency key.
   */
  pushBatch?(requests: readonly PushRequest[]): Observable<TransportResponse[]>;
  /** Fetches one page of changes since the `since` checkpoint (everything without one). */
  pull(request: PullRequest): Observable<PullPage>;
}

/** Receives a counter-style event per push, retry, dead letter, conflict and pull. */
export interface TelemetryClient {
  /** Called synchronously; a throw is reported on `events$` as a `callback-error` and ignored. */
  trackEvent(
    category: string,
    source: string,
    name: string,
    data: { tags: Record<string, string>; metrics: Record<string, number> },
  ): void;
}

/** What `onPull` is told besides the records. */
export interface PullInfo {
  /**
   * Ids of the records in this batch that the app still has writes queued for: they are shown
   * with those writes applied on top (a pending delete as `{ id, deleted: true }`), so mark them
   * as not yet synced. With `readYourWrites: false` they come as the server sent them instead.
   * A record not listed is the server's state: pulled, the answer to a write, or given back
   * after the writes shown on it failed.
   */
  pending: readonly (string | number)[];
}

/** One batch of remote records as `pulled$` shows it, after `onPull` resolved. */
export interface PulledBatch<E extends string = string> extends PullInfo {
  /** The entity the records belong to. */
  entity: E;
  /** The records as handed to `onPull`. */
  items: unknown[];
}

/** Options of tabs sharing one outbox (the engine's `tabs` option). */
export interface SharedTabsOptions {
  /** How long a forwarded request may go unacknowledged before it is asked again, and after twice that this tab takes the lead (ms). Default 500. */
  takeoverMs?: number;
  /** A Web Locks `LockManager` (default `navigator.locks`). */
  locks?: TabLocks;
  /** Opens the channel the tabs talk over (default a `BroadcastChannel` of that name). */
  channel?: (name: string) => TabChannel;
}

/** What `createSyncEngine` takes. `E` is the union of the configured entity names. */
export interface SyncEngineOptions<E extends string = string> {
  /** The entities to sync, by name: their endpoint and conflict strategy. */
  entities: Record<E, EntityConfig>;
  /** How to reach the server, usually {@link httpTransport}. */
  transport: SyncTransport;
  /** Default: a localforage instance where IndexedDB/localStorage work, else memory. */
  storage?: SyncStorage;
  /** Prefix of every storage key the engine owns. Default `rxsync`. */
  storageKey?: string;
  /** Default: browser online/offline events; always online outside a browser. */
  online$?: Observable<boolean>;
  /**
   * Transient answers from the server (5xx, 429, 408, 425) after which an item is
   * dead-lettered. No answer at all (network error, timeout, offline) never counts: those are
   * retried at the capped backoff for as long as the engine runs. Default 5.
   */
  maxRetries?: number;
  /**
   * A request with no answer after this long (a half-open connection) is aborted and tried
   * again, like a network error: it does not count against `maxRetries`. Default 30000.
   */
  requestTimeoutMs?: number;
  /** Default 1000. */
  retryBaseDelayMs?: number;
  /** Default 30000. */
  retryMaxDelayMs?: number;
  /** Jitter as a fraction of the delay, 0..1. Default 0.2. */
  retryJitter?: number;
  /** Requests under way at once (per-record order is always kept). Default 4. */
  concurrency?: number;
  /** Writes sent together in one `pushBatch` request when the transport has it. Default 1 (no batching). */
  batchSize?: number;
  /**
   * Merges remote records into the app's store: pulled pages, a record that won a conflict,
   * the server's answer to each of the app's own writes, and records given back when writes
   * shown on top of them failed (see {@link PullInfo} and the README's "Read-your-writes").
   * Calls for one entity never overlap. The checkpoint moves only once it resolved; a throw is
   * reported and the page comes again with the next pull.
   */
  onPull?: (entity: E, items: unknown[], info: PullInfo) => void | Promise<void>;
  /**
   * Hand remote records with the app's own queued writes applied on top (an update merged, a
   * pending delete as `{ id, deleted: true }`), listed in `pending`, so a pull never shows a
   * record older than the user's edit; should those writes end without landing (dead letter,
   * a conflict the server won, `clearQueue()`), the record as the server sent it is handed
   * again, no longer pending. Default `true`. `false`: records come as the server sent them,
   * and `pending` only lists the ids that still have queued writes.
   */
  readYourWrites?: boolean;
  /**
   * When the engine pulls by itself, besides `pull()` and `fullSync()`: once the outbox has
   * loaded, when the network comes back, and when a flush has emptied the queue (each
   * `true` by default), and every `intervalMs` (off by default). `false` turns them all off.
   * Pulls asked for while one runs collapse into one more.
   */
  autoPull?: false | { onStart?: boolean; onReconnect?: boolean; afterPush?: boolean; intervalMs?: number };
  /** Each emission asks for a pull, coalesced like `autoPull`: e.g. `eventSourcePoke(url)` for pushes from the server. */
  poke$?: Observable<unknown>;
  /**
   * Tabs of one origin on the same database and `storageKey` share one outbox: one tab (the
   * leader, elected with Web Locks) stores and sends for all; the others forward their writes
   * and calls to it and show its queue, status and events. On by default where Web Locks and
   * `BroadcastChannel` exist (browsers); `false` gives each engine the outbox to itself, a
   * second one waiting for the first. `takeoverMs` (default 500): a request unacknowledged
   * that long is asked again, and after twice that another tab takes the lead from a frozen leader. `locks` and
   * `channel` replace the browser's (tests, other runtimes).
   */
  tabs?: false | SharedTabsOptions;
  /**
   * For the `manual` strategy: the record to keep, as a value, Promise or Observable. Nothing,
   * or the remote record itself, lets the server win; a throw dead-letters the write.
   */
  onConflict?: (conflict: Conflict) => unknown;
  /**
   * Renews expired credentials when the server answers a push with `401`. Delivery pauses and
   * the hook is called once, however many requests got the 401; resolving with `true` or
   * nothing means renewed: every paused request is sent again (calling `headers` anew), and
   * no retry is counted. Returning `false`, throwing, rejecting, not settling within
   * `requestTimeoutMs`, or a `401` to the renewed credentials too: the writes stay queued,
   * an `auth-required` event (and `lastError`) says why, `flush()` resolves unsuccessful, and
   * the next `flush()` or reconnect tries again. Without it a `401` dead-letters the write.
   */
  onUnauthorized?: (context: UnauthorizedContext) => boolean | void | Promise<boolean | void>;
  /** Receives an event per push, retry, dead letter, conflict and pull. */
  telemetryClient?: TelemetryClient;
  /** The `source` argument of every `trackEvent` call. Default `rxsync`. */
  productId?: string;
  /** Schedules backoff delays; a `TestScheduler` makes them virtual. */
  scheduler?: SchedulerLike;
  /** Current time in ms; defaults to the scheduler's `now()`. */
  now?: () => number;
  /** Makes item ids; default `crypto.randomUUID`. */
  createId?: () => string;
}

/** A running engine, as `createSyncEngine` returns it. `E` is the union of the configured entity names. */
export interface SyncEngine<E extends string = string> {
  /**
   * The input stream: every write pushed here is queued. A bad write is reported (`events$`,
   * `lastError`) and dropped; the subject never errors or completes until `destroy()`.
   */
  readonly writes$: Subject<SyncWrite>;
  /** The current status on subscribe, then every change. */
  readonly status$: Observable<SyncStatusInfo>;
  /** The outbox (queued and in-flight writes, in order), current value first. */
  readonly queue$: Observable<readonly SyncItem[]>;
  /** The dead letters: writes given up on, current value first. */
  readonly failed$: Observable<readonly SyncItem[]>;
  /** Every conflict (409) and how it was resolved. */
  readonly conflicts$: Observable<Conflict & { resolution: ConflictResolution }>;
  /** Every batch of pulled records, after `onPull` resolved. */
  readonly pulled$: Observable<PulledBatch<E>>;
  /** Everything that happens, for logs and telemetry (see {@link SyncEvent}). */
  readonly events$: Observable<SyncEvent>;
  /** Resolves once the persisted outbox is loaded. */
  readonly ready: Promise<void>;
  /**
   * Queues a write and resolves with the queued item it became (after coalescing) once that is
   * durable. Rejects with `SyncInputError` for bad input, `SyncStorageError` when storage refused
   * it (then the write was not taken).
   */
  write(write: SyncWrite<E>): Promise<SyncItem>;
  /** Shorthand for `write({ entity, operation, data })`; `operation` defaults to `create`. */
  push(entity: E, data: unknown, operation?: SyncOperation): Promise<void>;
  /** Shorthand for `write({ entity, operation: 'delete', data: { id } })`. */
  delete(entity: E, id: string | number): Promise<void>;
  /**
   * Sends the queue now and resolves when every item queued at the call has been delivered or
   * dead-lettered, or the engine went offline.
   */
  flush(): Promise<SyncResult>;
  /** Pulls every entity from its checkpoint, following `hasMore`. */
  pull(): Promise<SyncResult>;
  /** `flush()`, then `pull()`; `success: false` when offline. */
  fullSync(): Promise<SyncResult>;
  /** Drops the outbox and the dead letters, durably, and aborts deliveries in flight. */
  clearQueue(): Promise<void>;
  /** Moves the dead letters back into the queue with fresh retry counts, then flushes. */
  reprocessFailed(): Promise<void>;
  /**
   * The app's writes of one record still in the outbox, in send order: empty when the record
   * is synced. A UI marks unsynced rows with `pendingFor(entity, id).length > 0`.
   */
  pendingFor(entity: E, id: string | number): readonly SyncItem[];
  /** The current status (what `status$` last emitted). */
  getStatus(): SyncStatusInfo;
  /** The current `queueLength`. */
  getQueueLength(): number;
  /** Calls `callback` with the current status and every change; returns the function that stops it. */
  onStatusChange(callback: (status: SyncStatusInfo) => void): () => void;
  /**
   * Completes every stream, aborts requests in flight and removes listeners; idempotent.
   * Writes already accepted still land in storage.
   */
  destroy(): void;
}
