/** Picks the store for a `db` option: a PostgreSQL URL, or a SQLite file / ':memory:'. */
import { PostgresStore } from './postgresStore.js';
import { SqliteStore } from './sqliteStore.js';
import type { SyncStore } from './store.js';

/** Whether `db` names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

export function openStore(db: string, options: { busyTimeoutMs?: number } = {}): SyncStore {
  return isPostgresUrl(db) ? new PostgresStore({ connectionString: db }) : new SqliteStore(db, options.busyTimeoutMs ?? 0);
}
