/**
 * What the protocol needs from a database: one interface, two implementations (SQLite in
 * sqliteStore.ts, the embedded default; PostgreSQL in postgresStore.ts, for several server
 * processes). The protocol rules live in protocol.ts and are the same for both.
 */

/** A record as the wire sees it: the app's fields plus the server-assigned ones. */
export interface StoredRecord {
  id: string;
  version: number;
  updatedAt: string;
  deleted?: true;
  [field: string]: unknown;
}

/** A record row (the live record or its tombstone). */
export interface RecordRow {
  record: StoredRecord;
  deleted: boolean;
}

/** One applied write (replays and rejected requests are not logged). */
export interface WriteLogEntry {
  seq: number;
  entity: string;
  recordId: string;
  method: string;
  idempotencyKey: string | null;
  version: number;
  at: string;
}

/** Where an idempotency key belongs: one caller, one method, one path. */
export interface IdempotencyScope {
  principal: string;
  method: string;
  /** `/{entity}` or `/{entity}/{id}`, the id decoded. */
  path: string;
  key: string;
}

/** What is remembered for an idempotency key. */
export interface StoredResponse {
  status: number;
  /** The response body, or undefined when it was larger than the cap (then answer from `recordId`). */
  body?: unknown;
  /** Hash of the request (If-Match and body) that first used the key. */
  fingerprint: string;
  entity: string;
  recordId: string;
}

export interface DbStats {
  /** Live (non-deleted) records over all entities. */
  records: number;
  tombstones: number;
  /** Applied writes (the length of the writes log). */
  writes: number;
  /** Requests answered from the idempotency store instead of being applied again. */
  idempotentReplays: number;
  idempotencyKeys: number;
  /** The newest write sequence number handed out. */
  seq: number;
}

/** A new state of a record. `basedOn` is the version it replaces (null: there was no row). */
export interface RecordChange {
  entity: string;
  id: string;
  /** The app's fields only. */
  data: Record<string, unknown>;
  basedOn: number | null;
  updatedAt: string;
  deleted: boolean;
  method: string;
  idempotencyKey: string | null;
}

/** One page of the change feed. */
export interface ChangePage {
  records: StoredRecord[];
  /** Where the next page starts: after the last record, or the feed's position for an empty page. */
  checkpoint: string;
  hasMore: boolean;
}

/** The operations of one write transaction. */
export interface WriteTx {
  /** The record or tombstone, locked against other writers until the transaction ends. */
  getRecord(entity: string, id: string): Promise<RecordRow | undefined>;
  /**
   * Stores `change` as version `basedOn + 1` (or 1) under a new change position and logs the
   * write. Throws ConcurrentWriteError when another transaction changed the row since it was read.
   */
  writeRecord(change: RecordChange): Promise<StoredRecord>;
  /**
   * Takes an idempotency key for this transaction: its stored response when it has one that has
   * not expired at `nowMs` (another request used it first), else 'claimed'. Concurrent holders of
   * one key are serialised here: the second waits for the first to commit or roll back.
   */
  claimKey(scope: IdempotencyScope, fingerprint: string, nowMs: number): Promise<StoredResponse | 'claimed'>;
  /**
   * Stores the response of a claimed key until `expiresAt` (ms). A body whose JSON is longer than
   * `maxBodyBytes` is not stored.
   */
  storeResponse(scope: IdempotencyScope, response: StoredResponse, expiresAt: number, maxBodyBytes: number): Promise<void>;
  countReplay(): Promise<void>;
}

export interface SyncStore {
  /** `sqlite` or `postgres`. */
  readonly kind: string;
  /** Resolves once the schema exists; every other call waits for it. */
  ready(): Promise<void>;
  /**
   * Runs `work` in one transaction: all its changes commit together or not at all. Retried
   * (from the start) when it throws ConcurrentWriteError.
   */
  write<T>(work: (tx: WriteTx) => Promise<T>): Promise<T>;
  /**
   * Changes of one entity after `since` (a checkpoint this store returned, validated by
   * `parseCheckpoint`; undefined = from the start), oldest first, each record once.
   * `fits(record)` is asked for each record in order; false ends the page before that record,
   * unless it is the first (a page always advances).
   */
  changesSince(entity: string, since: string | undefined, limit: number, fits: (record: StoredRecord) => boolean): Promise<ChangePage>;
  /** Whether `text` is a checkpoint this store could have returned (else the pull answers 400). */
  isCheckpoint(text: string): boolean;
  /** Whether an error means "the database is busy, try again later" (answered 503). */
  isBusy(cause: unknown): boolean;
  getRecord(entity: string, id: string): Promise<RecordRow | undefined>;

  // --- for tests and the admin endpoints ---
  /** Live records of an entity, ordered by id (tombstones too with `includeDeleted`). */
  records(entity: string, options?: { includeDeleted?: boolean }): Promise<StoredRecord[]>;
  /** One record or tombstone, or undefined. */
  record(entity: string, id: string): Promise<StoredRecord | undefined>;
  /** Every applied write, in order. */
  writeLog(): Promise<WriteLogEntry[]>;
  stats(): Promise<DbStats>;
  /** Deletes every record, idempotency key and logged write; the change feed's position is kept. */
  reset(): Promise<void>;
  /** Forgets idempotency keys that expired at `nowMs`; returns how many. */
  purgeResponses(nowMs: number): Promise<number>;
  /**
   * Follows committed changes, for the `/_events` route: `listener` is called with the feed's
   * position after every committed change (of every server process sharing the database). The
   * positions are decimal strings that only grow. Optional: without it `/_events` answers 501.
   */
  watch?(listener: (position: string) => void): Promise<ChangeWatch>;
  close(): Promise<void>;
}

/** A running {@link SyncStore.watch}. */
export interface ChangeWatch {
  /** The feed's position when watching began. */
  position: string;
  stop(): Promise<void>;
}

/** Another transaction changed a record between this transaction's read and write. */
export class ConcurrentWriteError extends Error {
  override readonly name = 'ConcurrentWriteError';
}

/** How often `write` runs a transaction that lost a race before giving up. */
export const MAX_WRITE_ATTEMPTS = 5;

/** Runs `attempt` again while it throws ConcurrentWriteError, at most MAX_WRITE_ATTEMPTS times. */
export async function retryConcurrent<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (cause) {
      if (!(cause instanceof ConcurrentWriteError) || n >= MAX_WRITE_ATTEMPTS) throw cause;
    }
  }
}

/** A row of the writes log as both stores keep it (PostgreSQL hands a bigint `seq` out as a string). */
export interface WriteDbRow {
  seq: number | string;
  entity: string;
  record_id: string;
  method: string;
  idempotency_key: string | null;
  version: number;
  at: string;
}

/** A writes-log row as the admin endpoint and the tests see it. */
export function toWrite(row: WriteDbRow): WriteLogEntry {
  return {
    seq: Number(row.seq),
    entity: row.entity,
    recordId: row.record_id,
    method: row.method,
    idempotencyKey: row.idempotency_key,
    version: row.version,
    at: row.at,
  };
}

/** The wire form of a row: tombstones carry only id, deleted, version and updatedAt. */
export function toRecord(row: { id: string; data: Record<string, unknown> | string; version: number; updatedAt: string; deleted: boolean }): StoredRecord {
  if (row.deleted) return { id: row.id, deleted: true, version: row.version, updatedAt: row.updatedAt };
  const data = typeof row.data === 'string' ? (JSON.parse(row.data) as Record<string, unknown>) : row.data;
  return { id: row.id, ...data, version: row.version, updatedAt: row.updatedAt };
}

/** The JSON of a response body to store with its key, or null when it is absent or over the cap. */
export function cappedJson(body: unknown, maxBytes: number): string | null {
  if (body === undefined) return null;
  const json = JSON.stringify(body);
  return Buffer.byteLength(json) <= maxBytes ? json : null;
}
