import { catchError, defer, firstValueFrom, from, map, type Observable, of, switchMap, throwError } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { classifyResponse, isTransportResponse, type PushOutcomeKind } from './classifyResponse.js';
import { bodySuffix, describeError, preview, SyncHttpError, SyncInputError, SyncOptionsError, withoutPrefix } from './errors.js';
import { pullListing, type HttpPullOptions } from './http/pullListing.js';
import { DEFAULT_MAX_RETRY_AFTER_MS, MAX_TIMER_MS, parseRetryAfter, readBody } from './http/readResponse.js';
import { versionOf } from './recordFields.js';
import type { PullPage, PushRequest, SyncTransport, TransportResponse } from './types.js';
import { idProblem } from './validateWrite.js';

/** Stands for the API root where only an endpoint's own path and query matter. */
const ROOT = new URL('http://endpoint.invalid/');

export { DEFAULT_MAX_RETRY_AFTER_MS, parseRetryAfter } from './http/readResponse.js';

/** What {@link httpTransport} takes; every option is optional. */
export interface HttpTransportOptions {
  /**
   * The API's address, e.g. `https://api.example.com/v1`; every endpoint that is not an
   * absolute URL is appended to its path (its query string is kept). Required outside a
   * browser; in a browser it defaults to the page's origin and may be relative (`/api`).
   */
  baseUrl?: string;
  /**
   * Extra headers for every request, e.g. authorization: either a fixed object, sent as it
   * is with each request, or a function called anew for each attempt (a retry sees a refreshed
   * token), which may return a Promise.
   */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /**
   * Path (after `baseUrl`) or absolute URL that `pushBatch` posts to; used when the engine's
   * `batchSize` is above 1. Default `/_batch`. When it answers with a final error (a 4xx, e.g. a
   * server without the endpoint), the writes are sent one by one instead.
   */
  batchEndpoint?: string;
  /** The longest wait a `Retry-After` header may impose; longer ones are cut to it. Default one hour; at most 2^31−1. */
  maxRetryAfterMs?: number;
  /**
   * Reads an answer to a push for a server that does not follow the protocol, e.g. one
   * that answers 500 to a duplicate create that in fact landed (`'ack'`). Return
   * `undefined` to keep the default reading ({@link classifyResponse}).
   */
  classify?: (response: TransportResponse, request: PushRequest) => PushOutcomeKind | undefined;
  /** How pulls are asked and read; default: the protocol's `?since=` feed of `{ items, checkpoint, hasMore }`. */
  pull?: HttpPullOptions;
}

/**
 * The default transport: the REST shape of `docs/PROTOCOL.md` over `fetch`. Requests are
 * cold and built with `fromFetch`, so unsubscribing aborts them.
 *
 * - create `POST {endpoint}`, update `PATCH {endpoint}/{id}`, delete `DELETE {endpoint}/{id}`,
 *   a client-wins re-send `PUT {endpoint}/{id}` (a delete is re-sent as a plain `DELETE`);
 * - every push carries `Idempotency-Key` (the item id) and, when the data has a `version`
 *   that the client last saw, `If-Match: {version}` so the server can detect a stale write;
 * - pull is `GET {endpoint}?since={checkpoint}` (no `since` before the server gave a
 *   checkpoint) and must answer `{ items, checkpoint?, hasMore? }`, unless the `pull` option
 *   says otherwise (a plain array, `{ data, next }`, snapshot mode…);
 * - a batch is `POST {batchEndpoint}` with `[{ key, method, path, body?, ifMatch? }]`, answered by
 *   `{ results: [{ key, status, body }] }` in the same order.
 *
 * How it treats what comes from outside:
 *
 * - URLs are built with the `URL` API: `baseUrl` with or without a trailing slash, endpoints
 *   with a query string (`/todos?api-version=1` gives `PATCH /todos/7?api-version=1` and
 *   `GET /todos?api-version=1&since=9`), absolute endpoints as they are.
 * - Nothing throws when a request is asked for: every request is built when it is subscribed
 *   to, so each attempt (each retry) calls `headers` again. A `headers` function that throws
 *   or rejects fails that attempt like a network error (retried); a record id no URL can carry
 *   (`.`, `..`, `%2e%2e`, a lone surrogate) fails with a {@link SyncInputError} (not retried).
 * - Pushes never follow redirects (`redirect: 'manual'`): a `3xx` (or, in a browser, the
 *   `opaqueredirect` answer with status 0) means the write did not reach its endpoint, and is
 *   a permanent failure whose reason names the Location when it is known. Pulls follow redirects.
 * - Every push answer carries `kind` (and often `reason`): `options.classify`'s answer, else
 *   {@link classifyResponse}'s. Any `2xx` is an ack whatever its body: a login page served
 *   with `200` counts as delivered, so put authentication failures on `401`/`403`.
 * - `Retry-After` is cut to `maxRetryAfterMs` (default one hour, never above 2^31−1 ms); a
 *   negative or unreadable value is ignored; a date in the past means "now".
 * - A request that gets no answer fails with a `SyncHttpError` of status 0 whose message keeps
 *   the cause (e.g. `ECONNREFUSED`); a failed pull or batch quotes up to 200 characters of the body.
 *
 * @throws {SyncOptionsError} when `baseUrl` is missing outside a browser, cannot be parsed,
 *   or is not http(s), or another option has the wrong type.
 *
 * @example
 * ```ts
 * const transport = httpTransport({ baseUrl: 'https://api.example.com', headers: async () => ({ Authorization: `Bearer ${await token()}` }) });
 * ```
 */
export function httpTransport(options: HttpTransportOptions = {}): SyncTransport {
  const base = baseOf(options.baseUrl);
  const { headers, classify, batchEndpoint = '/_batch', maxRetryAfterMs = DEFAULT_MAX_RETRY_AFTER_MS } = checked(options);
  const at = (endpoint: string): URL => endpointUrl(base, endpoint);

  /** Sends one request when subscribed: the caller's headers are fetched for this attempt. */
  const send = (url: URL, init: RequestInit, withHeaders: (caller: Record<string, string>) => Record<string, string>): Observable<Answer> =>
    callerHeaders$(headers).pipe(
      switchMap((caller) =>
        fromFetch(url.href, {
          ...init,
          headers: withHeaders(caller),
          selector: (response) => readAnswer(response, maxRetryAfterMs),
        }).pipe(catchError((error: unknown) => throwError(() => noAnswer(`${init.method} ${url.href}`, error)))),
      ),
    );

  /** The answer to a push with its `kind`: the caller's `classify` first, the default after. */
  const judged = ({ location, ...response }: Answer, request: PushRequest): TransportResponse => {
    const fallback = classifyResponse(response, request.item, { location });
    const custom = classify === undefined ? undefined : customKind(classify, response, request);
    if (custom === undefined || custom.kind === fallback.kind) return { ...response, ...fallback };
    return { ...response, ...custom };
  };

  return {
    push(pushRequest: PushRequest): Observable<TransportResponse> {
      return defer(() => {
        const { method, url, body, ifMatch } = describePush(pushRequest, at);
        const fixed: Record<string, string> = { 'Idempotency-Key': pushRequest.item.id };
        if (ifMatch !== undefined) fixed['If-Match'] = ifMatch;
        if (body !== undefined) fixed['Content-Type'] = 'application/json';
        const init = { method, body: body === undefined ? undefined : toJson(body, `write ${pushRequest.item.id}`), redirect: 'manual' as const };
        return send(url, init, (caller) => ({ ...caller, ...fixed }));
      }).pipe(map((answer) => judged(answer, pushRequest)));
    },

    pushBatch(requests: readonly PushRequest[]): Observable<TransportResponse[]> {
      return defer(() => {
        const target = at(batchEndpoint);
        let body: string;
        try {
          body = toJson(requests.map(toSubRequest), 'a batch');
        } catch (error) {
          // One write that cannot be sent fails the batch, but not for good (422, not transient):
          // the engine then sends the items one by one, and only that write fails.
          throw new SyncHttpError(`[rxsync] A batch was not sent: ${withoutPrefix(error)}`, 422);
        }
        const init = { method: 'POST', body, redirect: 'manual' as const };
        return send(target, init, (caller) => ({ ...caller, 'Content-Type': 'application/json' })).pipe(
          map((answer) => toBatchResults(target.href, requests.length, answer).map((result, i) => judged(result, requests[i]))),
        );
      });
    },

    pull({ entity, endpoint, since, state }): Observable<PullPage> {
      return defer(() =>
        pullListing(options.pull ?? {}, { entity, url: at(endpoint).href, since, state, headers: () => firstValueFrom(callerHeaders$(headers)) }),
      );
    },
  };
}

/** An answer as read off the wire: the Location of a redirect rides along for the reason. */
interface Answer extends TransportResponse {
  location?: string | null;
}

/** The base every relative endpoint hangs off, checked once so a bad one fails at construction. */
function baseOf(baseUrl: unknown): URL {
  const page = typeof location === 'undefined' ? undefined : (location as Location | undefined)?.href;
  const example = `Pass the API's absolute http(s) address, e.g. httpTransport({ baseUrl: 'https://api.example.com' }).`;
  if (baseUrl !== undefined && typeof baseUrl !== 'string') {
    throw new SyncOptionsError(`httpTransport: baseUrl must be a string, got ${preview(baseUrl)}. ${example}`);
  }
  if (baseUrl === undefined && page === undefined) {
    throw new SyncOptionsError(`httpTransport: baseUrl is missing, and outside a browser there is no page address to resolve endpoints against. ${example}`);
  }
  let base: URL;
  try {
    // Without a baseUrl a browser resolves endpoints against the page's origin, as fetch('/todos') would.
    base = new URL(baseUrl ?? '/', page);
  } catch {
    throw new SyncOptionsError(`httpTransport: baseUrl ${preview(baseUrl)} is not a URL${page === undefined ? ' (outside a browser it must be absolute)' : ''}. ${example}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new SyncOptionsError(`httpTransport: baseUrl ${preview(baseUrl ?? base.href)} is not an http(s) address. ${example}`);
  }
  return base;
}

function checked(options: HttpTransportOptions): HttpTransportOptions {
  const { headers, classify, batchEndpoint, maxRetryAfterMs } = options;
  if (headers !== undefined && typeof headers !== 'function' && (headers === null || typeof headers !== 'object')) {
    throw new SyncOptionsError(`httpTransport: headers must be an object of header names to values, or a function returning one; got ${preview(headers)}.`);
  }
  if (classify !== undefined && typeof classify !== 'function') {
    throw new SyncOptionsError(`httpTransport: classify must be a function (response, request) => 'ack' | 'conflict' | 'retry' | 'fail' | undefined; got ${preview(classify)}.`);
  }
  if (batchEndpoint !== undefined && typeof batchEndpoint !== 'string') {
    throw new SyncOptionsError(`httpTransport: batchEndpoint must be a path or URL string, e.g. '/_batch'; got ${preview(batchEndpoint)}.`);
  }
  if (maxRetryAfterMs !== undefined && !(typeof maxRetryAfterMs === 'number' && maxRetryAfterMs >= 0)) {
    throw new SyncOptionsError(`httpTransport: maxRetryAfterMs must be a number of milliseconds ≥ 0 (default ${DEFAULT_MAX_RETRY_AFTER_MS}); got ${preview(maxRetryAfterMs)}.`);
  }
  return { ...options, maxRetryAfterMs: maxRetryAfterMs === undefined ? undefined : Math.min(maxRetryAfterMs, MAX_TIMER_MS) };
}

/**
 * `endpoint` under `base`: a path is appended to the base's path and their query strings are
 * joined; an absolute URL stands on its own.
 */
function endpointUrl(base: URL, endpoint: string): URL {
  if (/^https?:\/\//i.test(endpoint)) {
    try {
      return new URL(endpoint);
    } catch {
      throw new SyncInputError(`The endpoint ${preview(endpoint)} is not a URL, so no write to it can be sent. Fix the entity's endpoint in options.entities.`);
    }
  }
  // Resolved against a throwaway origin only to split the endpoint into path and query.
  const relative = new URL(endpoint.startsWith('/') ? endpoint : `/${endpoint}`, ROOT);
  const url = new URL(base.href);
  url.pathname = url.pathname.replace(/\/$/, '') + relative.pathname;
  url.search = [url.search, relative.search].map((search) => search.slice(1)).filter(Boolean).join('&');
  url.hash = '';
  return url;
}

/**
 * The caller's headers for one attempt, evaluated on subscription (synchronously unless the
 * getter returns a Promise). A getter that fails (a token store not ready yet) fails only this
 * attempt, as a request that got no answer: the write is retried.
 */
function callerHeaders$(headers: HttpTransportOptions['headers']): Observable<Record<string, string>> {
  return defer(() => {
    const value = typeof headers === 'function' ? headers() : headers;
    return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function' ? from(value as PromiseLike<unknown>) : of(value);
  }).pipe(
    catchError((error: unknown) =>
      throwError(() => new SyncHttpError(`[rxsync] options.headers failed, so the request was not sent: ${unstopped(describeError(error))}.`, 0)),
    ),
    map((value) => {
      if (value === undefined) return {};
      if (value === null || typeof value !== 'object') {
        throw new SyncHttpError(`[rxsync] options.headers gave ${preview(value)}, so the request was not sent; it must give an object of header names to values.`, 0);
      }
      return value as Record<string, string>;
    }),
  );
}

function customKind(
  classify: NonNullable<HttpTransportOptions['classify']>,
  response: TransportResponse,
  request: PushRequest,
): { kind: PushOutcomeKind; reason: string } | undefined {
  const answered = `${response.status}${bodySuffix(response.body)}`;
  let kind: unknown;
  try {
    kind = classify(response, request);
  } catch (error) {
    return { kind: 'fail', reason: `options.classify threw for the answer ${answered}: ${describeError(error)}. Fix classify, then call reprocessFailed()` };
  }
  if (kind === undefined) return undefined;
  if (kind === 'ack' || kind === 'conflict' || kind === 'retry' || kind === 'fail') return { kind, reason: `${answered} (read as '${kind}' by options.classify)` };
  return { kind: 'fail', reason: `options.classify returned ${preview(kind)} for the answer ${answered}; return 'ack', 'conflict', 'retry', 'fail' or undefined` };
}

/** Method, URL, JSON body and If-Match of one push: shared by single and batched requests. */
function describePush({ item, endpoint, overwrite }: PushRequest, at: (endpoint: string) => URL): { method: string; url: URL; body?: unknown; ifMatch?: string } {
  const data = item.data as { id?: string | number };
  const collection = at(endpoint);
  const record = data.id === undefined ? collection : recordUrl(collection, data.id, item.id);
  const body = item.data;
  if (overwrite) return item.operation === 'delete' ? { method: 'DELETE', url: record } : { method: 'PUT', url: record, body };
  if (item.operation === 'create') return { method: 'POST', url: collection, body };
  const version = versionOf(data);
  const ifMatch = version === undefined ? undefined : String(version);
  return item.operation === 'update' ? { method: 'PATCH', url: record, body, ifMatch } : { method: 'DELETE', url: record, ifMatch };
}

function recordUrl(collection: URL, id: string | number, key: string): URL {
  const problem = idProblem(id);
  if (problem !== undefined) {
    throw new SyncInputError(`Write ${key} cannot be sent: its record id ${problem} Clear the write.`);
  }
  const url = new URL(collection.href);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${encodeURIComponent(String(id))}`;
  return url;
}

/** One entry of a batch body: its path is relative to the API root, as the endpoints are. */
function toSubRequest(request: PushRequest): Record<string, unknown> {
  const { url, ...rest } = describePush(request, (endpoint) => endpointUrl(ROOT, endpoint));
  return { key: request.item.id, ...rest, path: url.origin === ROOT.origin ? url.pathname + url.search : url.href };
}

/** Queued data is JSON-safe when `write()` took it; storage written by anything else may not be. */
function toJson(data: unknown, what: string): string {
  try {
    return JSON.stringify(data);
  } catch (error) {
    throw new SyncInputError(`The data of ${what} cannot be sent as JSON (${describeError(error)}). Clear the write.`);
  }
}

/** A message that ends a sentence of ours without a doubled full stop. */
function unstopped(message: string): string {
  return message.replace(/\.$/, '');
}

/** A request that got no answer: status 0, with undici's cause (`ECONNREFUSED` …) in the message. */
function noAnswer(request: string, error: unknown): SyncHttpError {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = typeof cause?.message === 'string' && cause.message !== '' ? cause.message : typeof cause?.code === 'string' ? cause.code : undefined;
  return new SyncHttpError(`[rxsync] Network error on ${request}: ${describeError(error)}${detail === undefined ? '' : ` (${detail})`}.`, 0);
}

function toBatchResults(target: string, expected: number, { status, body, retryAfterMs }: Answer): TransportResponse[] {
  if (status < 200 || status >= 300) {
    // A browser's opaque redirect has status 0, which would read as "no answer" (transient):
    // any redirect is a permanent failure, so the items go out one by one and each says why.
    const shown = status === 0 ? 'a redirect' : status;
    throw new SyncHttpError(`[rxsync] The batch request POST ${target} answered ${shown}${bodySuffix(body)}.`, status === 0 ? 300 : status, body, retryAfterMs);
  }
  const results = (body as { results?: unknown } | undefined)?.results;
  const valid =
    Array.isArray(results) &&
    results.length === expected &&
    results.every(isTransportResponse);
  if (!valid) {
    throw new SyncHttpError(
      `[rxsync] POST ${target} answered ${status} with a body that is not { results: [{ status, body }] } for ${expected} requests (got ${preview(body)}). Make the batch endpoint answer one result per request, in order.`,
      // Not a transient failure: the items go out one by one instead.
      422,
      body,
    );
  }
  return (results as TransportResponse[]).map((r) => ({ status: r.status, body: r.body }));
}

async function readAnswer(response: Response, maxRetryAfterMs: number): Promise<Answer> {
  // A browser does not show a redirect it was told not to follow: status 0, no headers.
  if (response.type === 'opaqueredirect') return { status: 0, body: undefined };
  return {
    status: response.status,
    body: await readBody(response),
    retryAfterMs: parseRetryAfter(response.headers.get('Retry-After'), Date.now(), maxRetryAfterMs),
    location: response.status >= 300 && response.status < 400 ? response.headers.get('Location') : undefined,
  };
}
