/**
 * The SQLite store (better-sqlite3): the embedded default, one server process per database file.
 *
 * One global change sequence (`meta.seq`) numbers every applied write. It is taken inside the
 * write's transaction and stored on the record row, so "changes after checkpoint N" is simply
 * `seq > N`. SQLite has one writer at a time, so sequence order is commit order and a pull page
 * can never skip a change that commits while a client is paging: a record that changes again
 * moves to a newer seq and shows up on a later page.
 *
 * better-sqlite3 is synchronous; the async `write` runs one transaction at a time (a promise
 * queue), so the protocol code can be the same for this store and PostgreSQL. Reads take their
 * turn in the same queue: on the one connection, a read between the steps of an open write
 * transaction would see its uncommitted rows.
 */
import Database from 'better-sqlite3';
import {
  cappedJson,
  ConcurrentWriteError,
  retryConcurrent,
  toRecord,
  toWrite,
  type ChangePage,
  type ChangeWatch,
  type DbStats,
  type IdempotencyScope,
  type RecordChange,
  type RecordRow,
  type StoredRecord,
  type StoredResponse,
  type SyncStore,
  type WriteDbRow,
  type WriteLogEntry,
  type WriteTx,
} from './store.js';

interface RecordDbRow {
  entity: string;
  id: string;
  data: string;
  version: number;
  updated_at: string;
  deleted: number;
  seq: number;
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
export function isSqliteBusy(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'));
}

function toRow(row: RecordDbRow): RecordRow {
  const deleted = row.deleted === 1;
  return { record: toRecord({ id: row.id, data: row.data, version: row.version, updatedAt: row.updated_at, deleted }), deleted };
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

export class SqliteStore implements SyncStore {
  readonly kind = 'sqlite';
  readonly sqlite: Database.Database;
  readonly filename: string;

  private readonly stmt: ReturnType<typeof prepareStatements>;
  /** The queue of the one connection: one transaction (or read) at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tx: WriteTx;
  /** The change position the open transaction took, if it changed a record. */
  private written: number | undefined;
  private readonly watchers = new Set<(position: string) => void>();

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
    this.tx = this.writeTx();
  }

  async ready(): Promise<void> {}

  /** Runs `task` once everything queued before it has finished. */
  private inTurn<T>(task: () => T | Promise<T>): Promise<T> {
    const result = this.queue.then(task, task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  write<T>(work: (tx: WriteTx) => Promise<T>): Promise<T> {
    return this.inTurn(() =>
      retryConcurrent(async () => {
        this.sqlite.exec('BEGIN IMMEDIATE');
        this.written = undefined;
        try {
          const result = await work(this.tx);
          this.sqlite.exec('COMMIT');
          if (this.written !== undefined) for (const watcher of this.watchers) watcher(String(this.written));
          return result;
        } catch (cause) {
          if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
          throw cause;
        }
      }),
    );
  }

  private writeTx(): WriteTx {
    const stmt = this.stmt;
    return {
      getRecord: async (entity, id) => this.getRow(entity, id),
      writeRecord: async (change: RecordChange) => {
        const current = this.getRow(change.entity, change.id);
        if ((current?.record.version ?? null) !== change.basedOn) throw new ConcurrentWriteError(`${change.entity}/${change.id} changed`);
        const version = (change.basedOn ?? 0) + 1;
        const seq = stmt.nextSeq.get()!.value;
        this.written = seq;
        const data = change.deleted ? '{}' : JSON.stringify(change.data);
        stmt.upsertRecord.run(change.entity, change.id, data, version, change.updatedAt, change.deleted ? 1 : 0, seq);
        stmt.logWrite.run(seq, change.entity, change.id, change.method, change.idempotencyKey, version, change.updatedAt);
        return this.getRow(change.entity, change.id)!.record;
      },
      claimKey: async (scope: IdempotencyScope, _fingerprint: string, nowMs: number) => {
        // BEGIN IMMEDIATE already serialises every writer of this database.
        const row = stmt.getResponse.get(scope.principal, scope.method, scope.path, scope.key, nowMs);
        if (!row) return 'claimed';
        return {
          status: row.status,
          body: row.body === null ? undefined : (JSON.parse(row.body) as unknown),
          fingerprint: row.fingerprint,
          entity: row.entity,
          recordId: row.record_id,
        } satisfies StoredResponse;
      },
      storeResponse: async (scope, response, expiresAt, maxBodyBytes) => {
        stmt.putResponse.run(scope.principal, scope.method, scope.path, scope.key, response.fingerprint, response.status, cappedJson(response.body, maxBodyBytes), response.entity, response.recordId, expiresAt);
      },
      countReplay: async () => {
        stmt.countReplay.run();
      },
    };
  }

  private getRow(entity: string, id: string): RecordRow | undefined {
    const row = this.stmt.getRecord.get(entity, id);
    return row && toRow(row);
  }

  isCheckpoint(text: string): boolean {
    return /^\d{1,15}$/.test(text);
  }

  isBusy(cause: unknown): boolean {
    return isSqliteBusy(cause);
  }

  changesSince(entity: string, since: string | undefined, limit: number, fits: (record: StoredRecord) => boolean): Promise<ChangePage> {
    // One read transaction: a consistent snapshot without taking the write lock.
    return this.inTurn(() =>
      this.sqlite
        .transaction(() => {
          const rows = this.stmt.changesSince.all(entity, since === undefined ? 0 : Number(since), limit + 1);
          const page: RecordDbRow[] = [];
          for (const row of rows.slice(0, limit)) {
            if (!fits(toRow(row).record) && page.length > 0) break;
            page.push(row);
          }
          const last = page[page.length - 1];
          const checkpoint = last ? last.seq : since !== undefined ? Number(since) : this.stmt.currentSeq.get()!.value;
          return { records: page.map((row) => toRow(row).record), checkpoint: String(checkpoint), hasMore: rows.length > page.length };
        })
        .deferred(),
    );
  }

  getRecord(entity: string, id: string): Promise<RecordRow | undefined> {
    return this.inTurn(() => this.getRow(entity, id));
  }

  records(entity: string, options: { includeDeleted?: boolean } = {}): Promise<StoredRecord[]> {
    const stmt = options.includeDeleted ? this.stmt.allRecords : this.stmt.liveRecords;
    return this.inTurn(() => stmt.all(entity).map((row) => toRow(row).record));
  }

  async record(entity: string, id: string): Promise<StoredRecord | undefined> {
    return (await this.getRecord(entity, id))?.record;
  }

  writeLog(): Promise<WriteLogEntry[]> {
    return this.inTurn(() => this.stmt.writes.all().map(toWrite));
  }

  stats(): Promise<DbStats> {
    return this.inTurn(() => ({ ...this.stmt.stats.get()! }));
  }

  /** Done before it returns when no write transaction is open (so a caller need not await it). */
  async reset(): Promise<void> {
    const wipe = () =>
      this.sqlite.exec("DELETE FROM records; DELETE FROM idempotency_keys; DELETE FROM writes; UPDATE meta SET value = 0 WHERE key = 'idempotent_replays';");
    if (!this.sqlite.inTransaction) this.sqlite.transaction(wipe).immediate();
    else await this.write(async () => wipe());
  }

  purgeResponses(nowMs: number): Promise<number> {
    return this.inTurn(() => this.stmt.purgeResponses.run(nowMs).changes);
  }

  /** This process's own commits: one server process per database file. */
  async watch(listener: (position: string) => void): Promise<ChangeWatch> {
    const watcher = (position: string) => listener(position);
    this.watchers.add(watcher);
    const position = await this.inTurn(() => String(this.stmt.currentSeq.get()!.value));
    return {
      position,
      stop: async () => {
        this.watchers.delete(watcher);
      },
    };
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.sqlite.open) this.sqlite.close();
  }
}
