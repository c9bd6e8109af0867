/**
 * SQLite storage of the reference sync server: the schema and every query, nothing else.
 * The protocol rules (what a PATCH means, when to answer 409, ...) live in protocol.ts.
 *
 * One global change sequence (`meta.seq`) numbers every applied write. It is taken inside the
 * write's transaction and stored on the record row, so "changes after checkpoint N" is simply
 * `seq > N`, and a pull page can never skip a change that commits while a client is paging:
 * a record that changes again moves to a newer seq and shows up on a later page.
 */
import Database from 'better-sqlite3';

/** A record as the wire sees it: the app's fields plus the server-assigned ones. */
export interface StoredRecord {
  id: string;
  version: number;
  updatedAt: string;
  deleted?: true;
  [field: string]: unknown;
}

/** A record row plus its change sequence number (never sent to clients). */
export interface RecordRow {
  record: StoredRecord;
  seq: number;
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
  /** The newest change sequence number handed out. */
  seq: number;
}

interface RecordDbRow {
  entity: string;
  id: string;
  data: string;
  version: number;
  updated_at: string;
  deleted: number;
  seq: number;
}

interface WriteDbRow {
  seq: number;
  entity: string;
  record_id: string;
  method: string;
  idempotency_key: string | null;
  version: number;
  at: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  entity     TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  data       TEXT    NOT NULL,            -- JSON object: the app's fields (no id/version/updatedAt)
  version    INTEGER NOT NULL,
  updated_at TEXT    NOT NULL,
  deleted    INTEGER NOT NULL DEFAULT 0,  -- 1 = tombstone
  seq        INTEGER NOT NULL UNIQUE,     -- global change sequence of the latest change
  PRIMARY KEY (entity, id)
);
CREATE INDEX IF NOT EXISTS records_changes ON records (entity, seq);
DROP TABLE IF EXISTS idempotency;         -- the former global keys: not scoped, so not reusable
CREATE TABLE IF NOT EXISTS idempotency_keys (
  principal   TEXT    NOT NULL,
  method      TEXT    NOT NULL,
  path        TEXT    NOT NULL,
  key         TEXT    NOT NULL,
  fingerprint TEXT    NOT NULL,
  status      INTEGER NOT NULL,
  body        TEXT,                       -- JSON response; NULL when it was over the size cap
  entity      TEXT    NOT NULL,
  record_id   TEXT    NOT NULL,
  expires_at  INTEGER NOT NULL,           -- ms since the epoch
  PRIMARY KEY (principal, method, path, key)
);
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency_keys (expires_at);
CREATE TABLE IF NOT EXISTS writes (
  seq             INTEGER PRIMARY KEY,
  entity          TEXT    NOT NULL,
  record_id       TEXT    NOT NULL,
  method          TEXT    NOT NULL,
  idempotency_key TEXT,
  version         INTEGER NOT NULL,
  at              TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT    PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', 0), ('idempotent_replays', 0);
`;

/** SQLite refused because another connection holds a lock: worth answering 503, not 500. */
export function isBusyError(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

function toRecord(row: RecordDbRow): StoredRecord {
  if (row.deleted) return { id: row.id, deleted: true, version: row.version, updatedAt: row.updated_at };
  const data = JSON.parse(row.data) as Record<string, unknown>;
  return { id: row.id, ...data, version: row.version, updatedAt: row.updated_at };
}

function toRow(row: RecordDbRow): RecordRow {
  return { record: toRecord(row), seq: row.seq, deleted: row.deleted === 1 };
}

function toWrite(row: WriteDbRow): WriteLogEntry {
  return {
    seq: row.seq,
    entity: row.entity,
    recordId: row.record_id,
    method: row.method,
    idempotencyKey: row.idempotency_key,
    version: row.version,
    at: row.at,
  };
}

function prepareStatements(db: Database.Database) {
  return {
    getRecord: db.prepare<[string, string], RecordDbRow>('SELECT * FROM records WHERE entity = ? AND id = ?'),
    upsertRecord: db.prepare<[string, string, string, number, string, number, number]>(
      `INSERT INTO records (entity, id, data, version, updated_at, deleted, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (entity, id) DO UPDATE SET data = excluded.data, version = excluded.version,
         updated_at = excluded.updated_at, deleted = excluded.deleted, seq = excluded.seq`,
    ),
    changesSince: db.prepare<[string, number, number], RecordDbRow>(
      'SELECT * FROM records WHERE entity = ? AND seq > ? ORDER BY seq LIMIT ?',
    ),
    liveRecords: db.prepare<[string], RecordDbRow>('SELECT * FROM records WHERE entity = ? AND deleted = 0 ORDER BY id'),
    allRecords: db.prepare<[string], RecordDbRow>('SELECT * FROM records WHERE entity = ? ORDER BY id'),
    nextSeq: db.prepare<[], { value: number }>("UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value"),
    currentSeq: db.prepare<[], { value: number }>("SELECT value FROM meta WHERE key = 'seq'"),
    getResponse: db.prepare<[string, string, string, string, number], { status: number; body: string | null; fingerprint: string; entity: string; record_id: string }>(
      `SELECT status, body, fingerprint, entity, record_id FROM idempotency_keys
       WHERE principal = ? AND method = ? AND path = ? AND key = ? AND expires_at > ?`,
    ),
    putResponse: db.prepare<[string, string, string, string, string, number, string | null, string, string, number]>(
      `INSERT OR REPLACE INTO idempotency_keys (principal, method, path, key, fingerprint, status, body, entity, record_id, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    purgeResponses: db.prepare<[number]>('DELETE FROM idempotency_keys WHERE expires_at <= ?'),
    logWrite: db.prepare<[number, string, string, string, string | null, number, string]>(
      'INSERT INTO writes (seq, entity, record_id, method, idempotency_key, version, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    writes: db.prepare<[], WriteDbRow>('SELECT * FROM writes ORDER BY seq'),
    countReplay: db.prepare("UPDATE meta SET value = value + 1 WHERE key = 'idempotent_replays'"),
    stats: db.prepare<[], DbStats>(
      `SELECT
         (SELECT COUNT(*) FROM records WHERE deleted = 0) AS records,
         (SELECT COUNT(*) FROM records WHERE deleted = 1) AS tombstones,
         (SELECT COUNT(*) FROM writes) AS writes,
         (SELECT value FROM meta WHERE key = 'idempotent_replays') AS idempotentReplays,
         (SELECT COUNT(*) FROM idempotency_keys) AS idempotencyKeys,
         (SELECT value FROM meta WHERE key = 'seq') AS seq`,
    ),
  };
}

export class ServerDb {
  readonly sqlite: Database.Database;
  readonly filename: string;

  private readonly stmt: ReturnType<typeof prepareStatements>;

  /**
   * @param filename a file path, or ':memory:' (the default)
   * @param busyTimeoutMs how long a write waits for another connection's lock. better-sqlite3
   *   waits synchronously, blocking every other request, so the default is 0: a locked database
   *   throws SQLITE_BUSY at once and the server answers 503 with Retry-After.
   */
  constructor(filename = ':memory:', busyTimeoutMs = 0) {
    this.filename = filename;
    this.sqlite = new Database(filename, { timeout: busyTimeoutMs });
    if (!this.sqlite.memory) {
      this.sqlite.pragma('journal_mode = WAL');
      this.sqlite.pragma('synchronous = NORMAL');
    }
    this.sqlite.exec(SCHEMA);
    this.stmt = prepareStatements(this.sqlite);
  }

  /** Runs `fn` in one IMMEDIATE transaction (all or nothing). Nested calls join the outer one. */
  transaction<T>(fn: () => T): T {
    if (this.sqlite.inTransaction) return fn();
    return this.sqlite.transaction(fn).immediate();
  }

  /** Runs `fn` in one read transaction: a consistent snapshot that takes no write lock. */
  read<T>(fn: () => T): T {
    if (this.sqlite.inTransaction) return fn();
    return this.sqlite.transaction(fn).deferred();
  }

  /** The record or tombstone with this id, or undefined. */
  getRecord(entity: string, id: string): RecordRow | undefined {
    const row = this.stmt.getRecord.get(entity, id);
    return row && toRow(row);
  }

  /**
   * Stores a new state of a record under a fresh change sequence number and logs the write.
   * Call inside `transaction()`. `data` holds the app's fields only.
   */
  writeRecord(change: {
    entity: string;
    id: string;
    data: Record<string, unknown>;
    version: number;
    updatedAt: string;
    deleted: boolean;
    method: string;
    idempotencyKey: string | null;
  }): StoredRecord {
    const seq = this.stmt.nextSeq.get()!.value;
    const data = change.deleted ? '{}' : JSON.stringify(change.data);
    this.stmt.upsertRecord.run(change.entity, change.id, data, change.version, change.updatedAt, change.deleted ? 1 : 0, seq);
    this.stmt.logWrite.run(seq, change.entity, change.id, change.method, change.idempotencyKey, change.version, change.updatedAt);
    return this.getRecord(change.entity, change.id)!.record;
  }

  /** Changes of one entity after `since`, oldest first (each record once, in its latest state). */
  changesSince(entity: string, since: number, limit: number): RecordRow[] {
    return this.stmt.changesSince.all(entity, since, limit).map(toRow);
  }

  /** The newest change sequence number handed out (0 on a fresh database). */
  currentSeq(): number {
    return this.stmt.currentSeq.get()!.value;
  }

  /** The stored response of an idempotency key that has not expired at `nowMs`, if any. */
  storedResponse(scope: IdempotencyScope, nowMs: number): StoredResponse | undefined {
    const row = this.stmt.getResponse.get(scope.principal, scope.method, scope.path, scope.key, nowMs);
    if (!row) return undefined;
    return {
      status: row.status,
      body: row.body === null ? undefined : (JSON.parse(row.body) as unknown),
      fingerprint: row.fingerprint,
      entity: row.entity,
      recordId: row.record_id,
    };
  }

  /**
   * Remembers the response of an idempotency key until `expiresAt` (ms), replacing an expired
   * one. A body whose JSON is longer than `maxBodyBytes` is not stored. Call in the write's transaction.
   */
  storeResponse(scope: IdempotencyScope, response: StoredResponse, expiresAt: number, maxBodyBytes: number): void {
    const body = response.body === undefined ? null : JSON.stringify(response.body);
    const kept = body !== null && Buffer.byteLength(body) <= maxBodyBytes ? body : null;
    this.stmt.putResponse.run(scope.principal, scope.method, scope.path, scope.key, response.fingerprint, response.status, kept, response.entity, response.recordId, expiresAt);
  }

  /** Forgets idempotency keys that expired at `nowMs`; returns how many. */
  purgeResponses(nowMs: number): number {
    return this.stmt.purgeResponses.run(nowMs).changes;
  }

  countReplay(): void {
    this.stmt.countReplay.run();
  }

  // --- helpers for tests and the admin endpoints ---

  /** Live records of an entity, ordered by id (tombstones too with `includeDeleted`). */
  records(entity: string, options: { includeDeleted?: boolean } = {}): StoredRecord[] {
    const stmt = options.includeDeleted ? this.stmt.allRecords : this.stmt.liveRecords;
    return stmt.all(entity).map(toRecord);
  }

  /** One record or tombstone, or undefined. */
  record(entity: string, id: string): StoredRecord | undefined {
    return this.getRecord(entity, id)?.record;
  }

  /** Every applied write, in order. */
  writeLog(): WriteLogEntry[] {
    return this.stmt.writes.all().map(toWrite);
  }

  stats(): DbStats {
    return { ...this.stmt.stats.get()! };
  }

  /**
   * Deletes every record, idempotency key and logged write. The change sequence is not
   * rewound, so checkpoints that clients hold stay valid (they just see no old changes).
   */
  reset(): void {
    this.transaction(() => {
      this.sqlite.exec("DELETE FROM records; DELETE FROM idempotency_keys; DELETE FROM writes; UPDATE meta SET value = 0 WHERE key = 'idempotent_replays';");
    });
  }

  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}
