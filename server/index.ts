/**
 * The rxsync reference sync server: `startSyncServer()` listens and resolves with a handle.
 * It speaks the wire protocol of docs/PROTOCOL.md for any entity name.
 */
import type { AddressInfo } from 'node:net';
import { createSyncServer, type SyncServerOptions } from './app.js';
import type { ServerDb } from './db.js';
import type { Faults } from './faults.js';

export { createSyncServer, type SyncApp, type SyncServerOptions } from './app.js';
export { ServerDb, type DbStats, type RecordRow, type StoredRecord, type StoredResponse, type WriteLogEntry } from './db.js';
export { DEFAULT_FAULTS, FaultConfigError, Faults, type FaultConfig, type FaultCounters } from './faults.js';
export {
  applyBatch,
  applyWrite,
  parseIfMatch,
  pullChanges,
  DEFAULT_PAGE_SIZE,
  MAX_BATCH_SIZE,
  MAX_PAGE_SIZE,
  type BatchItem,
  type BatchResult,
  type ProtocolResponse,
  type PullPage,
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
  db: ServerDb;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSyncServer(options: StartSyncServerOptions = {}): Promise<SyncServer> {
  const host = options.host ?? '127.0.0.1';
  const app = createSyncServer(options);
  const { server } = app;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((cause: unknown) => {
    app.dispose();
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
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        app.dispose();
      });
      return closing;
    },
  };
}
