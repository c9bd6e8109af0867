/**
 * The PostgreSQL store (`pg`): several server processes may share one database and behave as
 * one server.
 *
 * - Conflicts: a write reads its record `FOR UPDATE` and stores the next version with
 *   `UPDATE … WHERE entity = $1 AND id = $2 AND version = $3` (or `INSERT … ON CONFLICT DO
 *   NOTHING` for a new id); losing a race rolls back and runs the write again.
 * - Idempotency: the key is inserted first in the write's transaction (`INSERT … ON CONFLICT`),
 *   so a second transaction with the same key waits for the first and then replays its answer.
 * - The change feed, commit-safe: every record row carries the id of the transaction that last
 *   changed it (`pg_current_xact_id()`; each write transaction changes one record). A pull only
 *   serves rows whose transaction id is below the oldest transaction still running
 *   (`pg_snapshot_xmin(pg_current_snapshot())`), ordered by transaction id. Every transaction
 *   that commits later has an id at or above that horizon, so it lands after the checkpoint and
 *   is never skipped; a plain sequence would be taken before commit and could be.
 * - Pokes for `/_events`: after a write commits, its process sends a `NOTIFY` on the store's
 *   channel whose payload is a fresh transaction id (no record data). Taken after the commit, it
 *   is above every transaction id handed out before, so the positions every process sees only
 *   grow, even when transactions commit out of id order. Each process `LISTEN`s on one
 *   connection of its own, and after that connection was lost and is back it reports the
 *   current position (a change may have been missed meanwhile).
 */
import pg from 'pg';
import {
  cappedJson,
  ConcurrentWriteError,
  retryConcurrent,
  toRecord,
  toWrite,
  type ChangePage,
  type ChangeWatch,
  type DbStats,
  type RecordChange,
  type RecordRow,
  type StoredRecord,
  type SyncStore,
  type WriteDbRow,
  type WriteLogEntry,
  type WriteTx,
} from './store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:5432/database` */
  connectionString: string;
  /** Keep the tables in this schema (created if missing) instead of the connection's default. */
  schema?: string;
  /** Connections per process (default 10). */
  maxConnections?: number;
  /** A write waits at most this long for a row lock before answering 503 (default 5000 ms). */
  lockTimeoutMs?: number;
}

interface RecordPgRow {
  id: string;
  data: string;
  version: number;
  updated_at: string;
  deleted: boolean;
  xid: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  entity     text    NOT NULL,
  id         text    NOT NULL,
  data       text    NOT NULL,            -- JSON object: the app's fields (no id/version/updatedAt)
  version    integer NOT NULL,
  updated_at text    NOT NULL,
  deleted    boolean NOT NULL DEFAULT false,
  xid        xid8    NOT NULL,            -- transaction of the latest change: the feed's order
  PRIMARY KEY (entity, id)
);
CREATE INDEX IF NOT EXISTS records_changes ON records (entity, xid);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  principal   text    NOT NULL,
  method      text    NOT NULL,
  path        text    NOT NULL,
  key         text    NOT NULL,
  fingerprint text    NOT NULL,
  status      integer NOT NULL,           -- 0 while the claiming transaction runs
  body        text,                       -- JSON response; NULL when it was over the size cap
  entity      text    NOT NULL,
  record_id   text    NOT NULL,
  expires_at  bigint  NOT NULL,           -- ms since the epoch
  PRIMARY KEY (principal, method, path, key)
);
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency_keys (expires_at);
CREATE TABLE IF NOT EXISTS writes (
  seq             bigserial PRIMARY KEY,
  entity          text    NOT NULL,
  record_id       text    NOT NULL,
  method          text    NOT NULL,
  idempotency_key text,
  version         integer NOT NULL,
  at              text    NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
  name  text   PRIMARY KEY,
  value bigint NOT NULL
);
INSERT INTO counters (name, value) VALUES ('idempotent_replays', 0) ON CONFLICT DO NOTHING;
`;

/** How long the `LISTEN` connection waits before connecting again after it was lost. */
const LISTEN_RETRY_MS = 1000;

const RECORD_COLUMNS = 'id, data, version, updated_at, deleted, xid::text AS xid';

/** SQLSTATEs (and socket errors) that mean "try again later", answered 503. */
const BUSY_CODES = new Set(['40001', '40P01', '55P03', '57P03', '53300', '53400', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT']);

function toRow(row: RecordPgRow): RecordRow {
  return { record: toRecord({ id: row.id, data: row.data, version: row.version, updatedAt: row.updated_at, deleted: row.deleted }), deleted: row.deleted };
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export class PostgresStore implements SyncStore {
  readonly kind = 'postgres';
  readonly pool: pg.Pool;
  private readonly schemaReady: Promise<void>;
  private readonly clientConfig: pg.ClientConfig;
  /** The NOTIFY channel: one per schema, so stores in other schemas of the database stay apart. */
  private readonly channel: string;

  constructor(options: PostgresStoreOptions) {
    const settings = [`-c lock_timeout=${options.lockTimeoutMs ?? 5000}`];
    if (options.schema) settings.push(`-c search_path=${quoteIdent(options.schema)}`);
    this.clientConfig = { connectionString: options.connectionString, options: settings.join(' ') };
    this.channel = `rxsync_changes:${options.schema ?? ''}`;
    this.pool = new pg.Pool({ ...this.clientConfig, max: options.maxConnections ?? 10 });
    // An idle connection that dies (server restart) must not crash the process.
    this.pool.on('error', () => undefined);
    this.schemaReady = this.createSchema(options.schema);
    this.schemaReady.catch(() => undefined);
  }

  private async createSchema(schema: string | undefined): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Several processes may start at once; CREATE … IF NOT EXISTS is not safe in parallel.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('rxsync schema'))");
      if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
      await client.query(SCHEMA);
      await client.query('COMMIT');
    } catch (cause) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw cause;
    } finally {
      client.release();
    }
  }

  ready(): Promise<void> {
    return this.schemaReady;
  }

  async write<T>(work: (tx: WriteTx) => Promise<T>): Promise<T> {
    await this.schemaReady;
    return retryConcurrent(async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      const tx = { changed: false };
      try {
        await client.query('BEGIN');
        const result = await work(this.writeTx(client, tx));
        await client.query('COMMIT');
        // A lost poke only delays a pull until the client's next one: the write stands.
        if (tx.changed) await client.query('SELECT pg_notify($1, pg_current_xact_id()::text)', [this.channel]).catch(() => undefined);
        return result;
      } catch (cause) {
        await client.query('ROLLBACK').catch((failure: Error) => (broken = failure));
        throw cause;
      } finally {
        client.release(broken);
      }
    });
  }

  private writeTx(client: pg.PoolClient, tx: { changed: boolean }): WriteTx {
    const one = async <R extends pg.QueryResultRow>(sql: string, values: unknown[]) => (await client.query<R>(sql, values)).rows[0];
    return {
      getRecord: async (entity, id) => {
        const row = await one<RecordPgRow>(`SELECT ${RECORD_COLUMNS} FROM records WHERE entity = $1 AND id = $2 FOR UPDATE`, [entity, id]);
        return row && toRow(row);
      },
      writeRecord: async (change: RecordChange) => {
        const version = (change.basedOn ?? 0) + 1;
        const data = change.deleted ? '{}' : JSON.stringify(change.data);
        const values = [change.entity, change.id, data, version, change.updatedAt, change.deleted];
        const row =
          change.basedOn === null
            ? await one<RecordPgRow>(
                `INSERT INTO records (entity, id, data, version, updated_at, deleted, xid)
                 VALUES ($1, $2, $3, $4, $5, $6, pg_current_xact_id()) ON CONFLICT DO NOTHING RETURNING ${RECORD_COLUMNS}`,
                values,
              )
            : await one<RecordPgRow>(
                `UPDATE records SET data = $3, version = $4, updated_at = $5, deleted = $6, xid = pg_current_xact_id()
                 WHERE entity = $1 AND id = $2 AND version = $7 RETURNING ${RECORD_COLUMNS}`,
                [...values, change.basedOn],
              );
        if (!row) throw new ConcurrentWriteError(`${change.entity}/${change.id} changed`);
        tx.changed = true;
        await client.query('INSERT INTO writes (entity, record_id, method, idempotency_key, version, at) VALUES ($1, $2, $3, $4, $5, $6)', [
          change.entity,
          change.id,
          change.method,
          change.idempotencyKey,
          version,
          change.updatedAt,
        ]);
        return toRow(row).record;
      },
      claimKey: async (scope, fingerprint, nowMs) => {
        const pk = [scope.principal, scope.method, scope.path, scope.key];
        // Waits here while another transaction holds the same key; an expired key is taken over.
        const claimed = await one(
          `INSERT INTO idempotency_keys (principal, method, path, key, fingerprint, status, body, entity, record_id, expires_at)
           VALUES ($1, $2, $3, $4, $5, 0, NULL, '', '', $6)
           ON CONFLICT (principal, method, path, key) DO UPDATE
             SET fingerprint = excluded.fingerprint, status = 0, body = NULL, entity = '', record_id = '', expires_at = excluded.expires_at
             WHERE idempotency_keys.expires_at <= $6
           RETURNING 1 AS claimed`,
          [...pk, fingerprint, nowMs],
        );
        if (claimed) return 'claimed';
        const row = await one<{ status: number; body: string | null; fingerprint: string; entity: string; record_id: string }>(
          'SELECT status, body, fingerprint, entity, record_id FROM idempotency_keys WHERE principal = $1 AND method = $2 AND path = $3 AND key = $4',
          pk,
        );
        if (!row) throw new ConcurrentWriteError('idempotency key vanished');
        return {
          status: row.status,
          body: row.body === null ? undefined : (JSON.parse(row.body) as unknown),
          fingerprint: row.fingerprint,
          entity: row.entity,
          recordId: row.record_id,
        };
      },
      storeResponse: async (scope, response, expiresAt, maxBodyBytes) => {
        await client.query(
          `UPDATE idempotency_keys SET fingerprint = $5, status = $6, body = $7, entity = $8, record_id = $9, expires_at = $10
           WHERE principal = $1 AND method = $2 AND path = $3 AND key = $4`,
          [scope.principal, scope.method, scope.path, scope.key, response.fingerprint, response.status, cappedJson(response.body, maxBodyBytes), response.entity, response.recordId, expiresAt],
        );
      },
      countReplay: async () => {
        await client.query("UPDATE counters SET value = value + 1 WHERE name = 'idempotent_replays'");
      },
    };
  }

  isCheckpoint(text: string): boolean {
    return /^\d{1,19}$/.test(text);
  }

  isBusy(cause: unknown): boolean {
    const code = (cause as { code?: unknown } | null)?.code;
    return typeof code === 'string' && BUSY_CODES.has(code);
  }

  async changesSince(entity: string, since: string | undefined, limit: number, fits: (record: StoredRecord) => boolean): Promise<ChangePage> {
    await this.schemaReady;
    // One statement, one snapshot: the rows and the horizon agree.
    const { rows } = await this.pool.query<RecordPgRow & { horizon: string }>(
      `WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
       SELECT ${RECORD_COLUMNS}, horizon.xmin::text AS horizon
       FROM horizon LEFT JOIN records ON entity = $1 AND xid > $2::text::xid8 AND xid < horizon.xmin
       ORDER BY records.xid LIMIT $3`,
      [entity, since ?? '0', limit + 1],
    );
    const found = rows.filter((row) => row.id !== null);
    const page: RecordPgRow[] = [];
    for (const row of found.slice(0, limit)) {
      if (!fits(toRow(row).record) && page.length > 0) break;
      page.push(row);
    }
    const last = page[page.length - 1];
    // An empty page from the start: everything below the horizon has been seen.
    const checkpoint = last ? last.xid : (since ?? String(BigInt(rows[0].horizon) - 1n));
    return { records: page.map((row) => toRow(row).record), checkpoint, hasMore: found.length > page.length };
  }

  async getRecord(entity: string, id: string): Promise<RecordRow | undefined> {
    await this.schemaReady;
    const { rows } = await this.pool.query<RecordPgRow>(`SELECT ${RECORD_COLUMNS} FROM records WHERE entity = $1 AND id = $2`, [entity, id]);
    return rows[0] && toRow(rows[0]);
  }

  async records(entity: string, options: { includeDeleted?: boolean } = {}): Promise<StoredRecord[]> {
    await this.schemaReady;
    const { rows } = await this.pool.query<RecordPgRow>(
      `SELECT ${RECORD_COLUMNS} FROM records WHERE entity = $1 ${options.includeDeleted ? '' : 'AND NOT deleted'} ORDER BY id COLLATE "C"`,
      [entity],
    );
    return rows.map((row) => toRow(row).record);
  }

  async record(entity: string, id: string): Promise<StoredRecord | undefined> {
    return (await this.getRecord(entity, id))?.record;
  }

  async writeLog(): Promise<WriteLogEntry[]> {
    await this.schemaReady;
    const { rows } = await this.pool.query<WriteDbRow>('SELECT * FROM writes ORDER BY seq');
    return rows.map(toWrite);
  }

  async stats(): Promise<DbStats> {
    await this.schemaReady;
    const { rows } = await this.pool.query<Record<keyof DbStats, string>>(
      `SELECT
         (SELECT count(*) FROM records WHERE NOT deleted) AS records,
         (SELECT count(*) FROM records WHERE deleted) AS tombstones,
         (SELECT count(*) FROM writes) AS writes,
         (SELECT value FROM counters WHERE name = 'idempotent_replays') AS "idempotentReplays",
         (SELECT count(*) FROM idempotency_keys WHERE status <> 0) AS "idempotencyKeys",
         (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM writes_seq_seq) AS seq`,
    );
    const row = rows[0];
    return {
      records: Number(row.records),
      tombstones: Number(row.tombstones),
      writes: Number(row.writes),
      idempotentReplays: Number(row.idempotentReplays),
      idempotencyKeys: Number(row.idempotencyKeys),
      seq: Number(row.seq),
    };
  }

  async reset(): Promise<void> {
    await this.schemaReady;
    await this.pool.query("BEGIN; DELETE FROM records; DELETE FROM idempotency_keys; DELETE FROM writes; UPDATE counters SET value = 0; COMMIT;");
  }

  async purgeResponses(nowMs: number): Promise<number> {
    await this.schemaReady;
    const result = await this.pool.query('DELETE FROM idempotency_keys WHERE expires_at <= $1 AND status <> 0', [nowMs]);
    return result.rowCount ?? 0;
  }

  async watch(listener: (position: string) => void): Promise<ChangeWatch> {
    await this.schemaReady;
    let stopped = false;
    let client: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    /** Connects, listens, and answers the current position (above every id handed out so far). */
    const listen = async (): Promise<string> => {
      const next = new pg.Client(this.clientConfig);
      client = next;
      let listening = false;
      next.on('notification', (message) => {
        if (message.channel === this.channel && /^\d{1,19}$/.test(message.payload ?? '')) listener(message.payload!);
      });
      next.on('error', () => {
        next.end().catch(() => undefined);
        if (listening && !stopped && client === next) retry = setTimeout(relisten, LISTEN_RETRY_MS);
      });
      try {
        await next.connect();
        await next.query(`LISTEN ${quoteIdent(this.channel)}`);
        const { rows } = await next.query<{ position: string }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS position');
        listening = true;
        return rows[0].position;
      } catch (cause) {
        await next.end().catch(() => undefined);
        throw cause;
      }
    };
    const relisten = () => {
      listen().then(
        (position) => (stopped ? client?.end().catch(() => undefined) : listener(position)),
        () => {
          if (!stopped) retry = setTimeout(relisten, LISTEN_RETRY_MS);
        },
      );
    };
    const position = await listen();
    return {
      position,
      stop: async () => {
        stopped = true;
        clearTimeout(retry);
        await client?.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    await this.schemaReady.catch(() => undefined);
    if (!this.pool.ended) await this.pool.end();
  }
}
