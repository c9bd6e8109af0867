/**
 * A tiny in-process HTTP server speaking the wire protocol of DESIGN.md §3, for the bench:
 * POST {endpoint}, PATCH/PUT/DELETE {endpoint}/{id}, GET {endpoint}?since=, with
 * Idempotency-Key dedupe in a Map, plus `POST /_batch` taking `[{ key, method, path, body, ifMatch? }]`
 * and answering `200 { results: [{ key, status, body }] }`. Every answer is sent after
 * `latencyMs` (setTimeout), once per HTTP request, a batch included.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BenchServerStats {
  /** HTTP requests received (a batch counts once). */
  requests: number;
  /** `POST /_batch` requests received. */
  batchRequests: number;
  /** Sub-requests carried by batches. */
  batchItems: number;
  /** Writes applied for the first time (distinct idempotency keys). */
  applied: number;
  /** Writes answered from the idempotency map (replays). */
  replayed: number;
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

interface Answer {
  status: number;
  body: unknown;
}

interface Write {
  method: string;
  path: string;
  body: unknown;
  key: string | undefined;
}

const emptyStats = (): BenchServerStats => ({ requests: 0, batchRequests: 0, batchItems: 0, applied: 0, replayed: 0, maxOpen: 0 });

export async function startBenchServer(options: { latencyMs?: number } = {}): Promise<BenchServer> {
  const latencyMs = options.latencyMs ?? 20;
  const stats = emptyStats();
  const records = new Map<string, Record<string, unknown>>();
  const idempotency = new Map<string, Answer>();
  let open = 0;
  let nextId = 1;

  const applyWrite = ({ method, path, body, key }: Write): Answer => {
    if (key !== undefined) {
      const seen = idempotency.get(key);
      if (seen) {
        stats.replayed++;
        return seen;
      }
    }
    const answer = applyOnce(method, path, body);
    if (key !== undefined && answer.status < 500) idempotency.set(key, answer);
    if (answer.status < 300) stats.applied++;
    return answer;
  };

  const applyOnce = (method: string, path: string, body: unknown): Answer => {
    const parts = path.split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
    if (parts.length < 1 || parts.length > 2) return { status: 404, body: { error: `no route ${path}` } };
    const [entity, id] = parts;
    const data = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    switch (method) {
      case 'POST': {
        if (id !== undefined) return { status: 405, body: { error: 'POST goes to the collection' } };
        const recordId = data.id === undefined ? String(nextId++) : String(data.id);
        const record = { ...data, id: recordId, version: 1 };
        records.set(`${entity}/${recordId}`, record);
        return { status: 201, body: record };
      }
      case 'PATCH':
      case 'PUT': {
        if (id === undefined) return { status: 405, body: { error: `${method} needs an id` } };
        const previous = records.get(`${entity}/${id}`);
        const version = ((previous?.version as number | undefined) ?? 0) + 1;
        const record = method === 'PATCH' ? { ...previous, ...data, id, version } : { ...data, id, version };
        records.set(`${entity}/${id}`, record);
        return { status: 200, body: record };
      }
      case 'DELETE': {
        if (id === undefined) return { status: 405, body: { error: 'DELETE needs an id' } };
        return records.delete(`${entity}/${id}`) ? { status: 204, body: undefined } : { status: 404, body: { error: 'not found' } };
      }
      default:
        return { status: 405, body: { error: `method ${method} not allowed` } };
    }
  };

  const handle = (method: string, path: string, key: string | undefined, body: unknown): Answer => {
    if (path === '/_batch' && method === 'POST') {
      if (!Array.isArray(body)) return { status: 400, body: { error: 'POST /_batch needs a JSON array' } };
      stats.batchRequests++;
      stats.batchItems += body.length;
      const results = body.map((item: { key?: string; method?: string; path?: string; body?: unknown }) => {
        const answer = applyWrite({
          method: String(item.method ?? '').toUpperCase(),
          path: String(item.path ?? ''),
          body: item.body,
          key: typeof item.key === 'string' ? item.key : undefined,
        });
        return { key: item.key ?? null, status: answer.status, body: answer.body ?? null };
      });
      return { status: 200, body: { results } };
    }
    if (method === 'GET') return { status: 200, body: { items: [], checkpoint: String(records.size), hasMore: false } };
    return applyWrite({ method, path, body, key });
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    stats.requests++;
    open++;
    stats.maxOpen = Math.max(stats.maxOpen, open);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let answer: Answer;
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        const body: unknown = text === '' ? undefined : JSON.parse(text);
        const key = req.headers['idempotency-key'];
        answer = handle(req.method ?? 'GET', req.url ?? '/', typeof key === 'string' ? key : undefined, body);
      } catch (error) {
        answer = { status: 400, body: { error: String(error) } };
      }
      setTimeout(() => {
        open--;
        const payload = answer.body === undefined ? '' : JSON.stringify(answer.body);
        res.writeHead(answer.status, payload === '' ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
        res.end(payload);
      }, latencyMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    latencyMs,
    reset() {
      Object.assign(stats, emptyStats());
      records.clear();
      idempotency.clear();
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
