/**
 * The bench's server is the reference server (server/, SQLite in memory) with its latency
 * fault set, behind a thin wrapper that counts HTTP requests: so the figures are for the real
 * protocol implementation, idempotency and batch included.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSyncServer, SqliteStore } from '../server/index.js';

export interface BenchServerStats {
  /** HTTP requests received (a batch counts once). */
  requests: number;
  /** `POST /_batch` requests received. */
  batchRequests: number;
  /** Writes the server applied (its writes log; replays of an idempotency key are not applied). */
  applied: number;
  /** Highest number of requests open at once. */
  maxOpen: number;
}

export interface BenchServer {
  url: string;
  stats: BenchServerStats;
  latencyMs: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startBenchServer(options: { latencyMs?: number } = {}): Promise<BenchServer> {
  const latencyMs = options.latencyMs ?? 20;
  // Every simulated client comes from 127.0.0.1: a per-caller rate limit would measure itself.
  const store = new SqliteStore(':memory:');
  const app = createSyncServer({ db: store, faults: { latencyMs }, rateLimit: false });
  const countWrites = store.sqlite.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM writes');
  let counted = { requests: 0, batchRequests: 0, maxOpen: 0 };
  let open = 0;
  const server: Server = createServer((req, res) => {
    counted.requests++;
    if (req.method === 'POST' && req.url === '/_batch') counted.batchRequests++;
    open++;
    counted.maxOpen = Math.max(counted.maxOpen, open);
    res.on('close', () => open--);
    app.handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    latencyMs,
    get stats(): BenchServerStats {
      return { ...counted, applied: countWrites.get()!.n };
    },
    reset() {
      // Synchronous between requests (see SqliteStore.reset).
      store.reset().catch((cause: unknown) => console.error(cause));
      counted = { requests: 0, batchRequests: 0, maxOpen: 0 };
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await app.dispose();
    },
  };
}
