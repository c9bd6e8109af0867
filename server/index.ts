/**
 * The rxsync reference sync server: `startSyncServer()` listens and resolves with a handle.
 * It speaks the wire protocol of docs/PROTOCOL.md for any entity name.
 */
import type { AddressInfo } from 'node:net';
import { createSyncServer, type SyncServerOptions } from './app.js';
import type { SyncStore } from './store.js';
import type { Faults } from './faults.js';

export { createSyncServer, DEFAULT_SERVER_LIMITS, type ServerLimits, type SyncApp, type SyncServerOptions } from './app.js';
export { ANONYMOUS, type Authorize, type AuthorizeResult } from './access.js';
export { DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rateLimit.js';
export {
  ConcurrentWriteError,
  type ChangePage,
  type ChangeWatch,
  type DbStats,
  type IdempotencyScope,
  type RecordChange,
  type RecordRow,
  type StoredRecord,
  type StoredResponse,
  type SyncStore,
  type WriteLogEntry,
  type WriteTx,
} from './store.js';
export { DEFAULT_EVENT_STREAM_OPTIONS, type EventStreamOptions } from './events.js';
export { SqliteStore } from './sqliteStore.js';
export { PostgresStore, type PostgresStoreOptions } from './postgresStore.js';
export { isPostgresUrl, openStore } from './openStore.js';
export { DEFAULT_FAULTS, FaultConfigError, Faults, type FaultConfig, type FaultCounters } from './faults.js';
export {
  applyBatch,
  applyWrite,
  parseIfMatch,
  pullChanges,
  DEFAULT_LIMITS,
  DEFAULT_PAGE_SIZE,
  MAX_BATCH_SIZE,
  PROBLEM_KEY_IN_USE,
  PROBLEM_KEY_MISMATCH,
  MAX_PAGE_SIZE,
  type BatchItem,
  type BatchResult,
  type ProtocolResponse,
  type PullPage,
  type ProtocolContext,
  type ProtocolLimits,
  type PullQuery,
  type WriteMethod,
  type WriteRequest,
} from './protocol.js';

export interface StartSyncServerOptions extends SyncServerOptions {
  /** 0 (default) = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
}

export interface SyncServer {
  /** e.g. `http://127.0.0.1:8787` (no trailing slash). */
  url: string;
  port: number;
  /** Stops listening, drops open connections, closes the database. Idempotent. */
  close(): Promise<void>;
  faults: Faults;
  /** The store (SqliteStore or PostgresStore). */
  db: SyncStore;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

export async function startSyncServer(options: StartSyncServerOptions = {}): Promise<SyncServer> {
  const host = options.host ?? '127.0.0.1';
  // Bound to one named address: requests naming it are for this server too.
  const named = !['0.0.0.0', '::', ...LOOPBACK_HOSTS, '::1'].includes(host);
  const allowedHosts = options.allowedHosts ?? (named ? [...LOOPBACK_HOSTS, host.includes(':') ? `[${host}]` : host] : undefined);
  const app = createSyncServer({ ...options, allowedHosts });
  const { server } = app;
  await app.ready
    .then(
      () =>
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(options.port ?? 0, host, () => {
            server.off('error', reject);
            resolve();
          });
        }),
    )
    .catch(async (cause: unknown) => {
      await app.dispose();
      throw cause;
    });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${port}`,
    port,
    faults: app.faults,
    db: app.db,
    close() {
      closing ??= Promise.all([
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
        app.dispose(),
      ]).then(() => undefined);
      return closing;
    },
  };
}
