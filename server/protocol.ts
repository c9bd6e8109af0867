/**
 * The protocol rules of the reference server, independent of HTTP plumbing: what each write
 * does to a record, when it is a conflict, how idempotency keys replay, how pull pages are cut.
 * Every function resolves to `{ status, body }`; app.ts turns that into a response and batch
 * sub-requests use the very same functions, so a batched write behaves exactly like a single one.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { IdempotencyScope, StoredRecord, SyncStore, WriteTx } from './store.js';

export type WriteMethod = 'POST' | 'PATCH' | 'PUT' | 'DELETE';
export const WRITE_METHODS: readonly WriteMethod[] = ['POST', 'PATCH', 'PUT', 'DELETE'];

export interface WriteRequest {
  method: WriteMethod;
  entity: string;
  /** The id from the path (`/{entity}/{id}`); absent for POST. */
  id?: string;
  /** The parsed JSON body (ignored for DELETE). */
  body?: unknown;
  /** The raw `If-Match` value, if any. */
  ifMatch?: string | number | null;
  idempotencyKey?: string | null;
}

export interface ProtocolResponse {
  status: number;
  body: unknown;
  /** True when the answer came from the idempotency store and nothing was applied. */
  replayed?: boolean;
  /** The body is an RFC 9457 problem object (sent as application/problem+json). */
  problem?: boolean;
}

/** Sizes and lifetimes the protocol enforces. */
export interface ProtocolLimits {
  /** A write that would leave a record's JSON larger than this is refused with 413. */
  maxRecordBytes: number;
  /** Pull pages and batch results are cut to stay within this many bytes of JSON. */
  maxResponseBytes: number;
  /** How long an idempotency key is remembered, in ms. */
  idempotencyTtlMs: number;
  /** A response larger than this is not stored with its key; a replay answers the record's current state. */
  maxStoredResponseBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ProtocolLimits> = Object.freeze({
  maxRecordBytes: 1024 * 1024,
  maxResponseBytes: 8 * 1024 * 1024,
  idempotencyTtlMs: 24 * 60 * 60 * 1000,
  maxStoredResponseBytes: 64 * 1024,
});

/** Who is asking and under which rules: everything a write needs besides the request. */
export interface ProtocolContext {
  /** The caller as `authorize` named it: idempotency keys are scoped to it. */
  principal: string;
  now: () => Date;
  limits: ProtocolLimits;
  /** Whether another request that holds this idempotency scope (see `scopeId`) is still in flight. */
  inUse?: (scopeId: string) => boolean;
}

/** `type` of the 422 answer to a key reused with a different request. */
export const PROBLEM_KEY_MISMATCH = 'urn:rxsync:problem:idempotency-key-mismatch';
/** `type` of the 409 answer to a key whose first request is still being processed. */
export const PROBLEM_KEY_IN_USE = 'urn:rxsync:problem:idempotency-key-in-use';

export interface PullQuery {
  since?: string | null;
  limit?: string | null;
}

export interface PullPage {
  items: StoredRecord[];
  checkpoint: string;
  hasMore: boolean;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
export const MAX_ID_LENGTH = 512;

/** Fields the server owns; values a client sends for them are ignored. `id` comes from the path. */
const RESERVED_FIELDS = ['id', 'version', 'updatedAt', 'deleted'] as const;

const ENTITY_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function error(status: number, message: string): ProtocolResponse {
  return { status, body: { error: message } };
}

function problem(status: number, type: string, title: string, detail: string): ProtocolResponse {
  return { status, body: { type, title, status, detail }, problem: true };
}

/** The 409 for a request whose idempotency key is held by a request still in flight. */
export function keyInUse(key: string): ProtocolResponse {
  return problem(
    409,
    PROBLEM_KEY_IN_USE,
    'Idempotency key in use',
    `A request with Idempotency-Key "${key}" is still being processed; send this one again once it has been answered`,
  );
}

/** The scope of an idempotency key: the caller, the method and the record path. */
export function idempotencyScope(principal: string, method: WriteMethod, entity: string, id: string | undefined, key: string): IdempotencyScope {
  return { principal, method, path: id === undefined ? `/${entity}` : `/${entity}/${id}`, key };
}

/** A scope as one string, for the in-flight set. */
export function scopeId(scope: IdempotencyScope): string {
  return JSON.stringify([scope.principal, scope.method, scope.path, scope.key]);
}

/** What makes two requests with one key "the same request": the method and path are in the scope. */
function fingerprint(request: WriteRequest): string {
  const ifMatch = request.method === 'PATCH' || request.method === 'DELETE' ? parseIfMatch(request.ifMatch) : null;
  const body = request.method === 'DELETE' ? null : (request.body ?? null);
  return createHash('sha256')
    .update(JSON.stringify([ifMatch instanceof Error ? String(request.ifMatch) : ifMatch, body]))
    .digest('base64url');
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

export function isEntityName(name: string): boolean {
  return ENTITY_NAME.test(name);
}

/**
 * Splits `/{entity}` or `/{entity}/{id}` (a trailing slash is tolerated). Returns undefined for
 * anything else, including reserved names that start with `_`. Throws URIError on bad escapes.
 */
export function parseEntityPath(pathname: string): { entity: string; id?: string } | undefined {
  const trimmed = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  const parts = trimmed.split('/');
  if (parts[0] !== '' || parts.length < 2 || parts.length > 3) return undefined;
  const entity = decodeURIComponent(parts[1]);
  if (!isEntityName(entity)) return undefined;
  if (parts.length === 2) return { entity };
  const id = decodeURIComponent(parts[2]);
  if (id === '') return undefined;
  return { entity, id };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The app's fields of a body: everything but the server-owned ones. */
function appFields(body: Record<string, unknown>): Record<string, unknown> {
  const fields = { ...body };
  for (const name of RESERVED_FIELDS) delete fields[name];
  return fields;
}

/**
 * Parses `If-Match`: a version as a plain integer, optionally quoted and/or weak (`3`, `"3"`,
 * `W/"3"`), or `*` (any existing record). Returns null when absent, an Error when malformed.
 */
export function parseIfMatch(value: string | number | null | undefined): number | '*' | null | Error {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : new Error(`If-Match must be a record version (a non-negative integer), got ${value}`);
  }
  const text = value.trim();
  if (text === '') return null;
  if (text === '*') return '*';
  const match = /^(?:W\/)?"?(\d{1,15})"?$/.exec(text);
  if (!match) return new Error(`If-Match must be a record version such as 3 or "3", got ${JSON.stringify(value)}`);
  return Number(match[1]);
}

function validateKey(key: string | null | undefined): string | null | Error {
  if (key === null || key === undefined || key === '') return null;
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    return new Error(`Idempotency-Key is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  return key;
}

/**
 * Applies one write with the protocol's rules. Runs in a single store transaction: the
 * idempotency key, the change, its place in the change feed, the writes-log entry and the stored
 * response commit together or not at all. Applied writes (2xx) store their response, and so
 * does a DELETE of a record already gone (404); any other rejected request (400/404/409)
 * changed nothing, so the same key may be sent again.
 *
 * A key belongs to the caller, the method and the path: another caller's key, or the same key
 * on another record, is a different key. Reusing a key with a different request (If-Match or
 * body) is answered 422 and applies nothing.
 */
export async function applyWrite(db: SyncStore, request: WriteRequest, context: ProtocolContext): Promise<ProtocolResponse> {
  const key = validateKey(request.idempotencyKey);
  if (key instanceof Error) return error(400, key.message);
  const scope = key === null ? null : idempotencyScope(context.principal, request.method, request.entity, request.id, key);
  if (scope && context.inUse?.(scopeId(scope))) return keyInUse(scope.key);
  const print = scope && fingerprint(request);
  const nowMs = context.now().getTime();

  return db.write(async (tx) => {
    if (scope && print) {
      const stored = await tx.claimKey(scope, print, nowMs);
      if (stored !== 'claimed') {
        if (stored.fingerprint !== print) {
          return problem(
            422,
            PROBLEM_KEY_MISMATCH,
            'Idempotency key reused with a different request',
            `Idempotency-Key "${scope.key}" was first used on ${scope.method} ${scope.path} with another body or If-Match; use a new key for a new request`,
          );
        }
        await tx.countReplay();
        const body = stored.body !== undefined ? stored.body : (await tx.getRecord(stored.entity, stored.recordId))?.record;
        return { status: stored.status, body, replayed: true };
      }
    }
    const response = await decideWrite(tx, request, key, new Date(nowMs).toISOString(), context.limits);
    // A DELETE of a record already gone is final too (the client counts it as done): kept under
    // its key, so a late copy of that DELETE cannot remove a record created after it.
    const gone = request.method === 'DELETE' && response.status === 404;
    if (!(response.status >= 200 && response.status < 300) && !gone) {
      // Nothing was written; rolling back also releases the claimed key for the next attempt.
      throw new Rejected(response);
    }
    if (scope && print) {
      const recordId = gone ? String(request.id) : (response.body as StoredRecord).id;
      await tx.storeResponse(
        scope,
        { status: response.status, body: response.body, fingerprint: print, entity: request.entity, recordId },
        nowMs + context.limits.idempotencyTtlMs,
        context.limits.maxStoredResponseBytes,
      );
    }
    return response;
  }).catch((cause: unknown) => {
    if (cause instanceof Rejected) return cause.response;
    throw cause;
  });
}

/** Ends a write transaction that applied nothing, carrying its answer. */
class Rejected {
  constructor(readonly response: ProtocolResponse) {}
}

async function decideWrite(tx: WriteTx, request: WriteRequest, key: string | null, at: string, limits: ProtocolLimits): Promise<ProtocolResponse> {
  const { method, entity } = request;
  if (!isEntityName(entity)) return error(404, `Unknown entity path "/${entity}"`);
  if (method === 'POST' && request.id !== undefined) {
    return error(405, `POST creates records at /${entity}; use PATCH or PUT for /${entity}/${request.id}`);
  }
  if (method !== 'POST' && request.id === undefined) {
    return error(405, `${method} needs a record id: ${method} /${entity}/{id}`);
  }
  if (request.id !== undefined && request.id.length > MAX_ID_LENGTH) {
    return error(400, `Record ids are at most ${MAX_ID_LENGTH} characters long`);
  }

  let fields: Record<string, unknown> = {};
  let bodyId: string | undefined;
  if (method !== 'DELETE') {
    if (!isPlainObject(request.body)) {
      return error(400, `The body of ${method} /${entity}${request.id ? `/${request.id}` : ''} must be a JSON object`);
    }
    const rawId = request.body.id;
    if (rawId !== undefined && rawId !== null) {
      // A number is accepted as its decimal string (the client builds paths the same way).
      const text = typeof rawId === 'number' && Number.isSafeInteger(rawId) ? String(rawId) : rawId;
      if (typeof text !== 'string' || text === '') return error(400, 'A record "id" must be a non-empty string (or an integer)');
      if (text.length > MAX_ID_LENGTH) return error(400, `Record ids are at most ${MAX_ID_LENGTH} characters long`);
      bodyId = text;
    }
    if (request.id !== undefined && bodyId !== undefined && bodyId !== request.id) {
      return error(400, `The body's id "${bodyId}" does not match the id in the path "${request.id}"`);
    }
    fields = appFields(request.body);
  }

  const ifMatch = method === 'PATCH' || method === 'DELETE' ? parseIfMatch(request.ifMatch) : null;
  if (ifMatch instanceof Error) return error(400, ifMatch.message);

  const id = request.id ?? bodyId ?? randomUUID();
  const current = await tx.getRecord(entity, id);
  const live = current && !current.deleted ? current : undefined;
  const write = async (status: number, data: Record<string, unknown>, deleted: boolean): Promise<ProtocolResponse> => {
    const size = jsonBytes(data);
    if (size > limits.maxRecordBytes) {
      return error(413, `The record would be ${size} bytes of JSON, more than the limit of ${limits.maxRecordBytes}; store large data elsewhere and keep a reference`);
    }
    const record = await tx.writeRecord({
      entity,
      id,
      data,
      basedOn: current?.record.version ?? null,
      updatedAt: at,
      deleted,
      method,
      idempotencyKey: key,
    });
    return { status, body: record };
  };

  switch (method) {
    case 'POST':
      // A live record with this id is a conflict; a tombstone is revived (its version continues).
      if (live) return { status: 409, body: live.record };
      return write(201, fields, false);
    case 'PUT':
      // Unconditional overwrite or upsert: the client-wins re-send. If-Match is ignored.
      return write(200, fields, false);
    case 'PATCH':
    case 'DELETE': {
      if (!live) return error(404, `No ${entity} record with id "${id}"${current ? ' (it was deleted)' : ''}`);
      if (ifMatch !== null && ifMatch !== '*' && ifMatch !== live.record.version) {
        return { status: 409, body: live.record };
      }
      if (method === 'DELETE') return write(200, {}, true);
      return write(200, { ...appFields(live.record), ...fields }, false);
    }
  }
}

/**
 * One page of changes of an entity after a checkpoint, oldest change first: records in their
 * latest state and tombstones `{ id, deleted: true, version, updatedAt }`. A page ends early
 * (with `hasMore`) where its JSON would pass `maxResponseBytes`; it always holds one change.
 */
export async function pullChanges(db: SyncStore, entity: string, query: PullQuery, limits: ProtocolLimits = DEFAULT_LIMITS): Promise<ProtocolResponse> {
  const sinceText = query.since ?? '';
  if (sinceText !== '' && !db.isCheckpoint(sinceText)) {
    return error(400, `"since" must be a checkpoint this server returned, got ${JSON.stringify(sinceText)}`);
  }
  let limit = DEFAULT_PAGE_SIZE;
  const limitText = query.limit ?? '';
  if (limitText !== '') {
    if (!/^\d{1,15}$/.test(limitText) || Number(limitText) < 1) {
      return error(400, `"limit" must be a positive integer (at most ${MAX_PAGE_SIZE}), got ${JSON.stringify(limitText)}`);
    }
    limit = Math.min(Number(limitText), MAX_PAGE_SIZE);
  }
  // Room for the envelope ({"items":[...],"checkpoint":"…","hasMore":true}) besides the items.
  let budget = limits.maxResponseBytes - 100;
  const fits = (record: StoredRecord) => {
    budget -= jsonBytes(record) + 1;
    return budget >= 0;
  };
  const page = await db.changesSince(entity, sinceText === '' ? undefined : sinceText, limit, fits);
  const body: PullPage = { items: page.records, checkpoint: page.checkpoint, hasMore: page.hasMore };
  return { status: 200, body };
}

/** One sub-request of `POST /_batch`. */
export interface BatchItem {
  key?: string;
  method: WriteMethod;
  path: string;
  body?: unknown;
  ifMatch?: string | number;
}

export interface BatchResult {
  key: string | null;
  status: number;
  body: unknown;
}

export const MAX_BATCH_SIZE = 1000;

/**
 * Runs each sub-request exactly as the single request would run, each in its own transaction.
 * Results are kept within `maxResponseBytes`: once the next result might not fit, the remaining
 * sub-requests are not applied and answer 503 each, so the client sends them again.
 */
export async function applyBatch(db: SyncStore, items: unknown[], context: ProtocolContext): Promise<BatchResult[]> {
  let budget = context.limits.maxResponseBytes - 100;
  const results: BatchResult[] = [];
  for (const [index, item] of items.entries()) {
    const key = isPlainObject(item) && typeof item.key === 'string' ? item.key : null;
    let response: ProtocolResponse;
    // The largest result is a record at the size limit.
    if (budget < context.limits.maxRecordBytes + 1024) {
      response = error(503, `Batch item ${index} was not applied: the answer to this batch is full; send it again`);
    } else {
      try {
        response = await applyBatchItem(db, item, index, context);
      } catch (cause) {
        if (!db.isBusy(cause)) throw cause;
        response = error(503, `Batch item ${index} was not applied: the database is busy; send it again`);
      }
    }
    const result = { key, status: response.status, body: response.body };
    budget -= jsonBytes(result) + 1;
    results.push(result);
  }
  return results;
}

async function applyBatchItem(db: SyncStore, item: unknown, index: number, context: ProtocolContext): Promise<ProtocolResponse> {
  const where = `Batch item ${index}`;
  if (!isPlainObject(item)) return error(400, `${where} must be an object { key?, method, path, body?, ifMatch? }`);
  if (item.key !== undefined && item.key !== null && typeof item.key !== 'string') {
    return error(400, `${where}: "key" must be a string`);
  }
  const method = typeof item.method === 'string' ? item.method.toUpperCase() : item.method;
  if (!WRITE_METHODS.includes(method as WriteMethod)) {
    return error(400, `${where}: "method" must be one of ${WRITE_METHODS.join(', ')}, got ${JSON.stringify(item.method)}`);
  }
  if (typeof item.path !== 'string') return error(400, `${where}: "path" must be a string such as "/todos/1"`);
  if (item.ifMatch !== undefined && item.ifMatch !== null && typeof item.ifMatch !== 'string' && typeof item.ifMatch !== 'number') {
    return error(400, `${where}: "ifMatch" must be a string or a number`);
  }
  let route: ReturnType<typeof parseEntityPath>;
  try {
    route = parseEntityPath(item.path.split('?')[0]);
  } catch {
    return error(400, `${where}: "path" has a malformed %-escape: ${JSON.stringify(item.path)}`);
  }
  if (!route) return error(404, `${where}: no such route ${JSON.stringify(item.path)}`);
  return applyWrite(
    db,
    {
      method: method as WriteMethod,
      entity: route.entity,
      id: route.id,
      body: item.body,
      ifMatch: (item.ifMatch as string | number | undefined) ?? null,
      idempotencyKey: (item.key as string | undefined) ?? null,
    },
    context,
  );
}
