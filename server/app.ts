/**
 * Request handling of the reference sync server: routing, fault injection around entity
 * routes and /_batch, the /__ admin endpoints and the optional static directory.
 * See docs/PROTOCOL.md for the protocol it implements.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ServerDb, type StoredRecord } from './db.js';
import { FaultConfigError, Faults, type FaultConfig } from './faults.js';
import { HttpError, header, jsonError, parseJson, readText, send, setCors, type Reply } from './http.js';
import {
  MAX_BATCH_SIZE,
  applyBatch,
  applyWrite,
  isEntityName,
  parseEntityPath,
  pullChanges,
  type ProtocolResponse,
  type WriteMethod,
} from './protocol.js';
import { serveStatic } from './static.js';

export interface SyncServerOptions {
  /** SQLite file path, or ':memory:' (default). A file is opened in WAL mode. */
  db?: string;
  /** Serve the files of this directory at `/` (index.html) and other non-API paths. */
  staticDir?: string;
  /** Initial fault configuration. */
  faults?: Partial<FaultConfig>;
  /** Randomness for fault rates (default Math.random); inject a script for deterministic tests. */
  random?: () => number;
  /** Clock for `updatedAt` and the writes log (default: the real time). */
  now?: () => Date;
  /** Called with one line per answered request, e.g. `PATCH /todos/1 200 3ms`. */
  log?: (line: string) => void;
}

export interface SyncApp {
  /** The (not yet listening) HTTP server. */
  server: Server;
  /** The request listener, to mount the protocol into another node:http server. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  db: ServerDb;
  faults: Faults;
  /** Stops handling: pending latency timers are cancelled, the database is closed. */
  dispose(): void;
}

const ENTITY_METHODS = 'GET, POST';
const RECORD_METHODS = 'GET, PATCH, PUT, DELETE';

function isRecord(body: unknown): body is StoredRecord {
  return typeof body === 'object' && body !== null && typeof (body as StoredRecord).id === 'string' && typeof (body as StoredRecord).version === 'number';
}

/** Turns a protocol answer into an HTTP reply (ETag for records, replay marker, Location). */
function toReply(response: ProtocolResponse, entity?: string): Reply {
  const headers: Record<string, string> = {};
  if (isRecord(response.body)) {
    headers.ETag = `"${response.body.version}"`;
    if (response.status === 201 && entity) headers.Location = `/${entity}/${encodeURIComponent(response.body.id)}`;
  }
  if (response.replayed) headers['Idempotent-Replayed'] = 'true';
  return { status: response.status, body: response.body, headers };
}

export function createSyncServer(options: SyncServerOptions = {}): SyncApp {
  const db = new ServerDb(options.db ?? ':memory:');
  const faults = new Faults(options.faults, options.random);
  const now = options.now ?? (() => new Date());
  const timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  let disposed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        done: resolve,
      };
      timers.add(entry);
    });

  /** Runs a faultable request: latency, injected failure, the work, dropped response. */
  async function faulted(req: IncomingMessage, res: ServerResponse, work: () => Reply): Promise<Reply | 'dropped'> {
    const delay = faults.latency();
    if (delay > 0) await sleep(delay);
    if (disposed) return 'dropped';
    if (faults.shouldFail()) {
      const config = faults.config;
      const headers: Record<string, string> = {};
      if (config.retryAfterSeconds !== null) headers['Retry-After'] = String(Math.ceil(config.retryAfterSeconds));
      return jsonError(config.failureStatus, `Injected fault: the server answered ${config.failureStatus} without applying the request`, headers);
    }
    const reply = work();
    if (faults.shouldDrop()) {
      req.socket.destroy();
      res.destroy();
      return 'dropped';
    }
    return reply;
  }

  function entityRoute(method: string, entity: string, id: string | undefined, url: URL, req: IncomingMessage, text: string): Reply {
    if (id === undefined) {
      if (method === 'GET') {
        return toReply(pullChanges(db, entity, { since: url.searchParams.get('since'), limit: url.searchParams.get('limit') }));
      }
    } else if (method === 'GET') {
      const row = db.getRecord(entity, id);
      if (!row || row.deleted) return jsonError(404, `No ${entity} record with id "${id}"${row ? ' (it was deleted)' : ''}`);
      return toReply({ status: 200, body: row.record });
    }
    const body = method === 'DELETE' ? undefined : parseJson(text);
    return toReply(
      applyWrite(
        db,
        { method: method as WriteMethod, entity, id, body, ifMatch: header(req, 'if-match'), idempotencyKey: header(req, 'idempotency-key') },
        now,
      ),
      entity,
    );
  }

  function batchRoute(text: string): Reply {
    const items = parseJson(text);
    if (!Array.isArray(items)) {
      return jsonError(400, 'POST /_batch needs a JSON array of { key?, method, path, body?, ifMatch? } sub-requests');
    }
    if (items.length > MAX_BATCH_SIZE) return jsonError(413, `A batch holds at most ${MAX_BATCH_SIZE} sub-requests, got ${items.length}`);
    return { status: 200, body: { results: applyBatch(db, items, now) } };
  }

  async function adminRoute(method: string, path: string, url: URL, req: IncomingMessage): Promise<Reply> {
    if (path === '/__faults') {
      if (method === 'GET') return { status: 200, body: faults.config };
      if (method === 'DELETE') return { status: 200, body: faults.reset() };
      if (method === 'POST' || method === 'PATCH') {
        try {
          return { status: 200, body: faults.set(parseJson(await readText(req)) as Record<string, unknown>) };
        } catch (cause) {
          if (cause instanceof FaultConfigError) return jsonError(400, cause.message);
          throw cause;
        }
      }
      return methodNotAllowed('GET, POST, DELETE');
    }
    if (path === '/__reset') {
      if (method !== 'POST') return methodNotAllowed('POST');
      db.reset();
      faults.counters.delayed = faults.counters.failed = faults.counters.dropped = 0;
      return { status: 200, body: { ok: true } };
    }
    if (path === '/__writes') {
      return method === 'GET' ? { status: 200, body: db.writeLog() } : methodNotAllowed('GET');
    }
    if (path === '/__stats') {
      return method === 'GET' ? { status: 200, body: { ...db.stats(), faults: { ...faults.counters } } } : methodNotAllowed('GET');
    }
    const records = /^\/__records\/([^/]+)$/.exec(path);
    if (records) {
      if (method !== 'GET') return methodNotAllowed('GET');
      const entity = decodeURIComponent(records[1]);
      if (!isEntityName(entity)) return jsonError(404, `"${entity}" is not an entity name`);
      const includeDeleted = ['1', 'true'].includes(url.searchParams.get('includeDeleted') ?? '');
      return { status: 200, body: db.records(entity, { includeDeleted }) };
    }
    return jsonError(404, `No admin route ${path}; known: /__faults, /__reset, /__records/{entity}, /__writes, /__stats`);
  }

  function methodNotAllowed(allow: string): Reply {
    return jsonError(405, `Method not allowed here; allowed: ${allow}`, { Allow: allow });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<Reply | 'dropped' | 'sent'> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;

    if (method === 'OPTIONS') return { status: 204 };
    if (path.startsWith('/__')) return adminRoute(method, path, url, req);
    if (options.staticDir && (method === 'GET' || method === 'HEAD') && (await serveStatic(options.staticDir, path, req, res))) {
      return 'sent';
    }

    if (path === '/_batch') {
      if (method !== 'POST') return methodNotAllowed('POST');
      const text = await readText(req);
      return faulted(req, res, () => batchRoute(text));
    }

    let target: ReturnType<typeof parseEntityPath>;
    try {
      target = parseEntityPath(path);
    } catch {
      return jsonError(400, `The path ${path} has a malformed %-escape`);
    }
    if (!target) {
      if (path === '/' && method === 'GET') {
        return { status: 200, body: { server: 'rxsync reference sync server', protocol: 'docs/PROTOCOL.md', routes: ['/{entity}', '/{entity}/{id}', '/_batch', '/__faults', '/__reset', '/__records/{entity}', '/__writes', '/__stats'] } };
      }
      return jsonError(404, `No route ${method} ${path}; entity routes are /{entity} and /{entity}/{id}`);
    }
    const { entity, id } = target;
    const allowed = id === undefined ? ENTITY_METHODS : RECORD_METHODS;
    if (!allowed.split(', ').includes(method)) {
      const hint = id === undefined ? ` (writes to a record go to /${entity}/{id})` : ` (creates go to POST /${entity})`;
      return jsonError(405, `${method} is not allowed on ${path}${hint}; allowed: ${allowed}`, { Allow: allowed });
    }
    const text = method === 'GET' || method === 'DELETE' ? '' : await readText(req);
    return faulted(req, res, () => entityRoute(method, entity, id, url, req, text));
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    setCors(res);
    const finish = (outcome: Reply | 'dropped' | 'sent') => {
      if (outcome !== 'sent' && outcome !== 'dropped') send(res, outcome);
      const status = outcome === 'dropped' ? 'dropped' : outcome === 'sent' ? res.statusCode : outcome.status;
      options.log?.(`${req.method} ${req.url} ${status} ${Math.round(performance.now() - started)}ms`);
    };
    if (disposed) {
      finish(jsonError(503, 'The server is shutting down'));
      return;
    }
    route(req, res).then(finish, (cause: unknown) => {
      if (cause instanceof HttpError) finish(jsonError(cause.status, cause.message));
      else finish(jsonError(500, `Internal error: ${(cause as Error)?.message ?? String(cause)}`));
    });
  };

  return {
    server: createServer(handler),
    handler,
    db,
    faults,
    dispose() {
      if (disposed) return;
      disposed = true;
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.done();
      }
      timers.clear();
      db.close();
    },
  };
}
