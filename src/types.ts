import type { Observable, SchedulerLike, Subject } from 'rxjs';
import type { PushOutcomeKind } from './classifyResponse.js';

/** What a write does to a record. */
export type SyncOperation = 'create' | 'update' | 'delete';

/**
 * One write handed to the engine. For `delete`, `data` is `{ id }`. `E` narrows `entity` to
 * the names configured in `options.entities`, so a misspelt entity does not compile.
 */
export interface SyncWrite<E extends string = string> {
  entity: E;
  operation: SyncOperation;
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
  lastError?: string;
  /**
   * Set once a conflict was decided for the client: the item is sent as an overwrite (`PUT`)
   * under the key `{id}:put`, also after a restart.
   */
  overwrite?: boolean;
}

export type ConflictStrategy = 'server-wins' | 'client-wins' | 'last-write-wins' | 'manual';

export interface Conflict {
  entity: string;
  localItem: SyncItem;
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

export interface SyncStatusInfo {
  status: SyncState;
  online: boolean;
  queueLength: number;
  inFlight: number;
  failedCount: number;
  lastSyncAt?: string;
  lastError?: string;
  nextRetryAt?: string;
}

export interface SyncResult {
  success: boolean;
  pushed: number;
  pulled: number;
  conflicts: number;
  errors: number;
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
  | { type: 'pulled'; entity: string; count: number; checkpoint: string }
  | { type: 'pull-failed'; entity: string; error: string }
  | { type: 'sync-complete'; result: SyncResult }
  | { type: 'input-dropped'; write: unknown; error: string }
  | { type: 'storage-error'; error: string; key?: string; keptAs?: string }
  | { type: 'callback-error'; callback: 'onPull' | 'onConflict' | 'onStatusChange' | 'telemetryClient'; error: string };

/** Per-entity settings. */
export interface EntityConfig {
  /** Path (or absolute URL) of the collection, e.g. `/todos`. */
  endpoint: string;
  /** Default `server-wins`. */
  conflictStrategy?: ConflictStrategy;
}

/**
 * The storage the outbox lives in. A localforage instance fits as it is; so does
 * {@link memoryStorage}. Values are plain JSON-compatible data.
 */
export interface SyncStorage {
  getItem<T>(key: string): Promise<T | null>;
  setItem<T>(key: string, value: T): Promise<T>;
  removeItem(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** A server response as the engine sees it. */
export interface TransportResponse {
  status: number;
  body: unknown;
  /** From a `Retry-After` header, in milliseconds. */
  retryAfterMs?: number;
  /** What the answer means for the write, when the transport decided it; else `classifyResponse` decides. */
  kind?: PushOutcomeKind;
  /** Why, in a few words for events and `lastError` (e.g. `'already gone'`, a redirect's Location). */
  reason?: string;
}

export interface PushRequest {
  item: SyncItem;
  endpoint: string;
  /** `PUT` instead of the operation's own verb: a client-wins re-send. */
  overwrite?: boolean;
}

export interface PullPage {
  items: unknown[];
  checkpoint?: string;
  hasMore?: boolean;
}

/**
 * How the engine talks to a server. Each call is cold (built on subscription, never throwing
 * when called) and aborts its request when unsubscribed. `push` emits the response for any
 * HTTP status and errors only when no response arrived (network failure) or, with a
 * `SyncInputError`, when the write cannot be sent at all; `pull` errors with a `SyncHttpError` on non-2xx.
 */
export interface SyncTransport {
  push(request: PushRequest): Observable<TransportResponse>;
  /**
   * Optional: several pushes in one request, one response per request in the same order.
   * Errors (a `SyncHttpError`, or a network failure) only when the batch as a whole failed.
   */
  pushBatch?(requests: readonly PushRequest[]): Observable<TransportResponse[]>;
  pull(request: { entity: string; endpoint: string; since?: string }): Observable<PullPage>;
}

export interface TelemetryClient {
  trackEvent(
    category: string,
    source: string,
    name: string,
    data: { tags: Record<string, string>; metrics: Record<string, number> },
  ): void;
}

export interface SyncEngineOptions<E extends string = string> {
  entities: Record<E, EntityConfig>;
  transport: SyncTransport;
  /** Default: a localforage instance where IndexedDB/localStorage work, else memory. */
  storage?: SyncStorage;
  /** Prefix of every storage key the engine owns. Default `rxsync`. */
  storageKey?: string;
  /** Default: browser online/offline events; always online outside a browser. */
  online$?: Observable<boolean>;
  /** Transient failures before an item is dead-lettered. Default 5. */
  maxRetries?: number;
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
  onPull?: (entity: E, items: unknown[]) => void | Promise<void>;
  onConflict?: (conflict: Conflict) => unknown;
  telemetryClient?: TelemetryClient;
  productId?: string;
  /** Schedules backoff delays; a `TestScheduler` makes them virtual. */
  scheduler?: SchedulerLike;
  /** Current time in ms; defaults to the scheduler's `now()`. */
  now?: () => number;
  /** Makes item ids; default `crypto.randomUUID`. */
  createId?: () => string;
}

export interface SyncEngine<E extends string = string> {
  readonly writes$: Subject<SyncWrite<E>>;
  readonly status$: Observable<SyncStatusInfo>;
  readonly queue$: Observable<readonly SyncItem[]>;
  readonly failed$: Observable<readonly SyncItem[]>;
  readonly conflicts$: Observable<Conflict & { resolution: ConflictResolution }>;
  readonly pulled$: Observable<{ entity: E; items: unknown[] }>;
  readonly events$: Observable<SyncEvent>;
  readonly ready: Promise<void>;
  write(write: SyncWrite<E>): Promise<SyncItem>;
  push(entity: E, data: unknown, operation?: SyncOperation): Promise<void>;
  delete(entity: E, id: string | number): Promise<void>;
  flush(): Promise<SyncResult>;
  pull(): Promise<SyncResult>;
  fullSync(): Promise<SyncResult>;
  clearQueue(): Promise<void>;
  reprocessFailed(): Promise<void>;
  getStatus(): SyncStatusInfo;
  getQueueLength(): number;
  onStatusChange(callback: (status: SyncStatusInfo) => void): () => void;
  destroy(): void;
}
