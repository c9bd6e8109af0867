/**
 * Request handling of the reference sync server: routing, fault injection around entity
 * routes and /_batch, the /__ admin endpoints and the optional static directory.
 * See docs/PROTOCOL.md for the protocol it implements.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ANONYMOUS, corsHeaders, hostAllowed, originAllowed, type Authorize } from './access.js';
import { openStore } from './openStore.js';
import type { StoredRecord, SyncStore } from './store.js';
import { FaultConfigError, Faults, type FaultConfig } from './faults.js';
import { HttpError, header, jsonError, readJson, send, type Reply } from './http.js';
import {
  DEFAULT_LIMITS,
  MAX_BATCH_SIZE,
  applyBatch,
  applyWrite,
  idempotencyScope,
  isEntityName,
  keyInUse,
  parseEntityPath,
  pullChanges,
  scopeId,
  type ProtocolContext,
  type ProtocolLimits,
  type ProtocolResponse,
  type WriteMethod,
} from './protocol.js';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rateLimit.js';
import { serveStatic } from './static.js';
import { checkEventStreamOptions, EventStreams, lastEventIdOf, type EventStreamOptions } from './events.js';

/** Limits on what a request may send and an answer may hold. */
export interface ServerLimits extends ProtocolLimits {
  /** Largest request body; larger is 413. */
  maxBodyBytes: number;
  /** Deepest nesting of arrays/objects in a JSON body; deeper is 400. */
  maxJsonDepth: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  ...DEFAULT_LIMITS,
  maxBodyBytes: 10 * 1024 * 1024,
  maxJsonDepth: 64,
});

export interface SyncServerOptions {
  /**
   * Where to keep the data: a SQLite file path or ':memory:' (default; a file is opened in WAL
   * mode), or a PostgreSQL URL `postgres://user:pass@host:5432/db` (several server processes may
   * share it). Or a store object (see store.ts).
   */
  db?: string | SyncStore;
  /** Serve the files of this directory at `/` (index.html) and other non-API paths. */
  staticDir?: string;
  /**
   * Turn on the test and demo routes `/__faults`, `/__reset`, `/__records/{entity}`, `/__writes`
   * and `/__stats`. Off by default: they wipe data and list every record and key.
   */
  admin?: boolean;
  /** Decides who sent each API request; default: everyone is the principal `anonymous`. */
  authorize?: Authorize;
  /** Browser origins allowed to call (exact, e.g. `https://app.example.com`), or '*'. Default: loopback origins. */
  allowedOrigins?: readonly string[] | '*';
  /** `Host` names this server answers to (no port), or '*'. Default: localhost, 127.0.0.1, [::1]. */
  allowedHosts?: readonly string[] | '*';
  /** Requests per caller (the principal, or the client address without `authorize`); false = no limit. */
  rateLimit?: RateLimitOptions | false;
  /** The `/_events` stream of pokes: heartbeat interval and the reconnection delay asked of clients. */
  events?: Partial<EventStreamOptions>;
  /** Overrides of the size and lifetime limits. */
  limits?: Partial<ServerLimits>;
  /** How long a write waits for a lock held by another connection (SQLite file), in ms. Default 0: answer 503 at once. */
  busyTimeoutMs?: number;
  /** Initial fault configuration (it applies with or without the admin routes; `/__faults` changes it). */
  faults?: Partial<FaultConfig>;
  /** Randomness for fault rates (default Math.random); inject a script for deterministic tests. */
  random?: () => number;
  /** Clock for `updatedAt`, idempotency expiry and the writes log (default: the real time). */
  now?: () => Date;
  /** Called with one line per answered request, e.g. `PATCH /todos/1 200 3ms`, and for internal errors. */
  log?: (line: string) => void;
}

export interface SyncApp {
  /** The (not yet listening) HTTP server. */
  server: Server;
  /** The request listener, to mount the protocol into another node:http server. */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  db: SyncStore;
  faults: Faults;
  /** Resolves once the database is ready (its schema exists); rejects if it cannot be opened. */
  ready: Promise<void>;
  /** Stops handling: pending latency timers are cancelled, `/_events` streams are ended, the database is closed. */
  dispose(): Promise<void>;
}

const ENTITY_METHODS = 'GET, POST';
const RECORD_METHODS = 'GET, PATCH, PUT, DELETE';
const ADMIN_ROUTES = ['/__faults', '/__reset', '/__records/{entity}', '/__writes', '/__stats'];
const PURGE_EVERY_MS = 60_000;

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
  if (response.problem) headers['Content-Type'] = 'application/problem+json';
  return { status: response.status, body: response.body, headers };
}

export function createSyncServer(options: SyncServerOptions = {}): SyncApp {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  if (!(limits.maxResponseBytes >= limits.maxRecordBytes + 64 * 1024)) {
    // Otherwise a page or batch could not hold even one record at the size limit.
    throw new RangeError('[rxsync] limits.maxResponseBytes must be at least limits.maxRecordBytes + 64 KiB');
  }
  const db = typeof options.db === 'object' ? options.db : openStore(options.db ?? ':memory:', { busyTimeoutMs: options.busyTimeoutMs });
  const ready = db.ready();
  // Observed by startSyncServer / the caller; this keeps an early failure from being unhandled here.
  ready.catch(() => undefined);
  const events = new EventStreams(db, checkEventStreamOptions(options.events));
  const faults = new Faults(options.faults, options.random);
  const now = options.now ?? (() => new Date());
  const limiter = options.rateLimit === false ? undefined : new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const timers = new Set<{ timer: NodeJS.Timeout; done: () => void }>();
  /** Idempotency scopes of requests being handled, with the request that holds each. */
  const inFlight = new Map<string, object>();
  let disposed = false;

  const purge = setInterval(() => {
    // A busy database: the next round purges.
    db.purgeResponses(now().getTime()).catch(() => undefined);
  }, PURGE_EVERY_MS).unref();

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

  const readBody = (req: IncomingMessage) => readJson(req, { maxBytes: limits.maxBodyBytes, maxDepth: limits.maxJsonDepth });

  /**
   * Runs a faultable request: latency, injected failure, the work, dropped response. The given
   * idempotency scopes are held (in flight) from arrival until the work is done.
   */
  async function faulted(req: IncomingMessage, res: ServerResponse, scopes: string[], work: (owner: object) => Promise<Reply>): Promise<Reply | 'dropped'> {
    const owner = {};
    for (const scope of scopes) if (!inFlight.has(scope)) inFlight.set(scope, owner);
    try {
      const delay = faults.latency();
      if (delay > 0) await sleep(delay);
      if (disposed) return 'dropped';
      if (faults.shouldFail()) {
        const config = faults.config;
        const headers: Record<string, string> = {};
        if (config.retryAfterSeconds !== null) headers['Retry-After'] = String(Math.ceil(config.retryAfterSeconds));
        return jsonError(config.failureStatus, `Injected fault: the server answered ${config.failureStatus} without applying the request`, headers);
      }
      const reply = await work(owner);
      if (faults.shouldDrop()) {
        req.socket.destroy();
        res.destroy();
        return 'dropped';
      }
      return reply;
    } finally {
      for (const scope of scopes) if (inFlight.get(scope) === owner) inFlight.delete(scope);
    }
  }

  const context = (principal: string, owner?: object): ProtocolContext => ({
    principal,
    now,
    limits,
    inUse: (scope) => {
      const holder = inFlight.get(scope);
      return holder !== undefined && holder !== owner;
    },
  });

  async function entityRoute(method: string, entity: string, id: string | undefined, url: URL, req: IncomingMessage, res: ServerResponse, principal: string): Promise<Reply | 'dropped'> {
    if (method === 'GET') {
      return faulted(req, res, [], async () => {
        if (id === undefined) return toReply(await pullChanges(db, entity, { since: url.searchParams.get('since'), limit: url.searchParams.get('limit') }, limits));
        const row = await db.getRecord(entity, id);
        if (!row || row.deleted) return jsonError(404, `No ${entity} record with id "${id}"${row ? ' (it was deleted)' : ''}`);
        return toReply({ status: 200, body: row.record });
      });
    }
    const body = method === 'DELETE' ? undefined : await readBody(req);
    const key = header(req, 'idempotency-key');
    const scope = key ? scopeId(idempotencyScope(principal, method as WriteMethod, entity, id, key)) : undefined;
    // A second request with a key whose first request is still being handled: answer at once.
    if (scope !== undefined && key && inFlight.has(scope)) return toReply(keyInUse(key));
    return faulted(req, res, scope === undefined ? [] : [scope], async (owner) =>
      toReply(
        await applyWrite(db, { method: method as WriteMethod, entity, id, body, ifMatch: header(req, 'if-match'), idempotencyKey: key }, context(principal, owner)),
        entity,
      ),
    );
  }

  async function batchRoute(req: IncomingMessage, res: ServerResponse, principal: string): Promise<Reply | 'dropped'> {
    const items = await readBody(req);
    if (!Array.isArray(items)) {
      return jsonError(400, 'POST /_batch needs a JSON array of { key?, method, path, body?, ifMatch? } sub-requests');
    }
    if (items.length > MAX_BATCH_SIZE) return jsonError(413, `A batch holds at most ${MAX_BATCH_SIZE} sub-requests, got ${items.length}`);
    return faulted(req, res, batchScopes(items, principal), async (owner) => ({ status: 200, body: { results: await applyBatch(db, items, context(principal, owner)) } }));
  }

  /** The idempotency scopes a batch will use, as far as its items are well-formed. */
  function batchScopes(items: unknown[], principal: string): string[] {
    const scopes: string[] = [];
    for (const item of items) {
      const { key, method, path } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
      if (typeof key !== 'string' || key === '' || typeof method !== 'string' || typeof path !== 'string') continue;
      try {
        const target = parseEntityPath(path.split('?')[0]);
        if (target) scopes.push(scopeId(idempotencyScope(principal, method.toUpperCase() as WriteMethod, target.entity, target.id, key)));
      } catch {
        // a malformed path: the item is answered 400 on its own
      }
    }
    return scopes;
  }

  async function adminRoute(method: string, path: string, url: URL, req: IncomingMessage): Promise<Reply> {
    if (path === '/__faults') {
      if (method === 'GET') return { status: 200, body: faults.config };
      if (method === 'DELETE') return { status: 200, body: faults.reset() };
      if (method === 'POST' || method === 'PATCH') {
        try {
          return { status: 200, body: faults.set((await readBody(req)) as Record<string, unknown>) };
        } catch (cause) {
          if (cause instanceof FaultConfigError) return jsonError(400, cause.message);
          throw cause;
        }
      }
      return methodNotAllowed('GET, POST, DELETE');
    }
    if (path === '/__reset') {
      if (method !== 'POST') return methodNotAllowed('POST');
      await db.reset();
      faults.counters.delayed = faults.counters.failed = faults.counters.dropped = 0;
      return { status: 200, body: { ok: true } };
    }
    if (path === '/__writes') {
      return method === 'GET' ? { status: 200, body: await db.writeLog() } : methodNotAllowed('GET');
    }
    if (path === '/__stats') {
      return method === 'GET' ? { status: 200, body: { ...(await db.stats()), faults: { ...faults.counters }, eventStreams: events.size } } : methodNotAllowed('GET');
    }
    const records = /^\/__records\/([^/]+)$/.exec(path);
    if (records) {
      if (method !== 'GET') return methodNotAllowed('GET');
      const entity = decodeURIComponent(records[1]);
      if (!isEntityName(entity)) return jsonError(404, `"${entity}" is not an entity name`);
      const includeDeleted = ['1', 'true'].includes(url.searchParams.get('includeDeleted') ?? '');
      return { status: 200, body: await db.records(entity, { includeDeleted }) };
    }
    return jsonError(404, `No admin route ${path}; known: ${ADMIN_ROUTES.join(', ')}`);
  }

  function methodNotAllowed(allow: string): Reply {
    return jsonError(405, `Method not allowed here; allowed: ${allow}`, { Allow: allow });
  }

  /** Who is asking: the principal, or the reply that refuses the request. */
  async function principalOf(req: IncomingMessage): Promise<string | Reply> {
    if (!options.authorize) return ANONYMOUS;
    const result = await options.authorize(req);
    if ('principal' in result && typeof result.principal === 'string' && result.principal !== '') return result.principal;
    if ('reject' in result && (result.reject === 401 || result.reject === 403)) {
      return jsonError(result.reject, result.message ?? (result.reject === 401 ? 'Authentication required' : 'Not allowed'), result.headers);
    }
    throw new TypeError('[rxsync] authorize must return { principal: non-empty string } or { reject: 401 | 403 }');
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<Reply | 'dropped' | 'sent'> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;

    if (method === 'OPTIONS') return { status: 204 };
    const isAdmin = path.startsWith('/__');
    if (isAdmin && !options.admin) return jsonError(404, `No route ${method} ${path}`);
    if (!isAdmin && options.staticDir && (method === 'GET' || method === 'HEAD') && (await serveStatic(options.staticDir, path, req, res))) {
      return 'sent';
    }
    if (path === '/' && method === 'GET') {
      return { status: 200, body: { server: 'rxsync reference sync server', protocol: 'docs/PROTOCOL.md', routes: ['/{entity}', '/{entity}/{id}', '/_batch', '/_events', ...(options.admin ? ADMIN_ROUTES : [])] } };
    }

    const principal = await principalOf(req);
    if (typeof principal !== 'string') return principal;
    if (isAdmin) return adminRoute(method, path, url, req);
    if (limiter) {
      const wait = limiter.take(options.authorize ? `principal:${principal}` : `address:${req.socket.remoteAddress ?? ''}`);
      if (wait > 0) return jsonError(429, `Too many requests; send again in ${wait} s`, { 'Retry-After': String(wait) });
    }

    if (path === '/_events') {
      if (method !== 'GET') return methodNotAllowed('GET');
      await events.open(res, lastEventIdOf(req, url));
      return 'sent';
    }
    if (path === '/_batch') {
      if (method !== 'POST') return methodNotAllowed('POST');
      return batchRoute(req, res, principal);
    }

    let target: ReturnType<typeof parseEntityPath>;
    try {
      target = parseEntityPath(path);
    } catch {
      return jsonError(400, `The path ${path} has a malformed %-escape`);
    }
    if (!target) return jsonError(404, `No route ${method} ${path}; entity routes are /{entity} and /{entity}/{id}`);
    const { entity, id } = target;
    const allowed = id === undefined ? ENTITY_METHODS : RECORD_METHODS;
    if (!allowed.split(', ').includes(method)) {
      const hint = id === undefined ? ` (writes to a record go to /${entity}/{id})` : ` (creates go to POST /${entity})`;
      return jsonError(405, `${method} is not allowed on ${path}${hint}; allowed: ${allowed}`, { Allow: allowed });
    }
    return entityRoute(method, entity, id, url, req, res, principal);
  }

  /** The reply for a failure: our own refusals keep their message, anything else is a plain 500 (logged). */
  function failure(cause: unknown, req: IncomingMessage): Reply {
    if (cause instanceof HttpError) return jsonError(cause.status, cause.message, cause.headers);
    if (db.isBusy(cause)) return jsonError(503, 'The database is busy; send the request again', { 'Retry-After': '1' });
    options.log?.(`${req.method} ${req.url} internal error: ${(cause as Error)?.stack ?? String(cause)}`);
    return jsonError(500, 'Internal server error');
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const finish = (outcome: Reply | 'dropped' | 'sent') => {
      let status: number | string = outcome === 'dropped' ? 'dropped' : res.statusCode;
      if (outcome !== 'sent' && outcome !== 'dropped') {
        try {
          status = send(res, outcome, limits.maxResponseBytes);
        } catch (cause) {
          res.destroy(cause as Error);
          status = 'failed';
        }
      }
      options.log?.(`${req.method} ${req.url} ${status} ${Math.round(performance.now() - started)}ms`);
    };
    if (disposed) {
      finish(jsonError(503, 'The server is shutting down'));
      return;
    }
    if (!hostAllowed(header(req, 'host'), options.allowedHosts)) {
      finish(jsonError(403, 'This Host is not allowed; start the server with this host name in allowedHosts (--allow-host)'));
      return;
    }
    const origin = header(req, 'origin');
    if (origin !== null) {
      if (!originAllowed(origin, options.allowedOrigins)) {
        finish(jsonError(403, 'This Origin is not allowed; start the server with it in allowedOrigins (--allow-origin)'));
        return;
      }
      for (const [name, value] of Object.entries(corsHeaders(origin))) res.setHeader(name, value);
    }
    ready
      .then(() => route(req, res))
      .catch((cause: unknown) => failure(cause, req))
      .then(finish)
      .catch((cause: unknown) => options.log?.(`${req.method} ${req.url} could not be answered: ${String(cause)}`));
  };

  return {
    server: createServer(handler),
    handler,
    db,
    faults,
    ready,
    async dispose() {
      if (disposed) return;
      disposed = true;
      clearInterval(purge);
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.done();
      }
      timers.clear();
      await events.close();
      await db.close();
    },
  };
}
