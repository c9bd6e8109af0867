import { map, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { preview, SyncHttpError } from './errors.js';
import { versionOf } from './recordVersion.js';
import type { PullPage, PushRequest, SyncTransport, TransportResponse } from './types.js';

/** What {@link httpTransport} takes; every option is optional. */
export interface HttpTransportOptions {
  /** Prefixed to every entity endpoint that is not an absolute URL. */
  baseUrl?: string;
  /**
   * Extra headers for every request, e.g. authorization: either a fixed object, sent as it
   * is with each request, or a function called anew for each request (so a token that
   * changes is picked up).
   */
  headers?: Record<string, string> | (() => Record<string, string>);
  /**
   * Path (after `baseUrl`) or absolute URL that `pushBatch` posts to; used when the engine's
   * `batchSize` is above 1. Default `/_batch`. When it answers with a final error (a 4xx, e.g. a
   * server without the endpoint), the writes are sent one by one instead.
   */
  batchEndpoint?: string;
}

/**
 * The default transport: the REST protocol of docs/PROTOCOL.md over `fetch`. Requests are cold
 * and built with `fromFetch`, so unsubscribing aborts them.
 *
 * - create `POST {endpoint}`, update `PATCH {endpoint}/{id}`, delete `DELETE {endpoint}/{id}`,
 *   a client-wins re-send `PUT {endpoint}/{id}` (a delete is re-sent as a plain `DELETE`);
 * - every push carries `Idempotency-Key` (the item id) and, when the data has a `version`
 *   that the client last saw, `If-Match: {version}` so the server can detect a stale write;
 * - pull is `GET {endpoint}?since={checkpoint}` and must answer `{ items, checkpoint?, hasMore? }`;
 * - a batch is `POST {batchEndpoint}` with `[{ key, method, path, body?, ifMatch? }]`, answered by
 *   `{ results: [{ key, status, body }] }` in the same order.
 *
 * @example
 * ```ts
 * const transport = httpTransport({ baseUrl: 'https://api.example.com', headers: () => ({ Authorization: `Bearer ${token}` }) });
 * ```
 */
export function httpTransport(options: HttpTransportOptions = {}): SyncTransport {
  const url = (path: string): string => (/^https?:\/\//.test(path) ? path : `${options.baseUrl ?? ''}${path}`);
  const headers = (): Record<string, string> =>
    typeof options.headers === 'function' ? options.headers() : { ...options.headers };
  const request = (input: string, init: RequestInit): Observable<TransportResponse> =>
    fromFetch(input, {
      ...init,
      selector: async (response) => ({
        status: response.status,
        body: await readBody(response),
        retryAfterMs: parseRetryAfter(response.headers.get('Retry-After')),
      }),
    });

  return {
    push(pushRequest: PushRequest): Observable<TransportResponse> {
      const { method, path, body, ifMatch } = describePush(pushRequest);
      const sent: Record<string, string> = { ...headers(), 'Idempotency-Key': pushRequest.item.id };
      if (ifMatch !== undefined) sent['If-Match'] = ifMatch;
      if (body !== undefined) sent['Content-Type'] = 'application/json';
      return request(url(path), { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body) });
    },

    pushBatch(requests: readonly PushRequest[]): Observable<TransportResponse[]> {
      const target = url(options.batchEndpoint ?? '/_batch');
      const batch = requests.map((r) => ({ key: r.item.id, ...describePush(r) }));
      return request(target, {
        method: 'POST',
        headers: { ...headers(), 'Content-Type': 'application/json' },
        body: JSON.stringify(batch),
      }).pipe(map((response) => toBatchResults(target, requests.length, response)));
    },

    pull({ entity, endpoint, since }): Observable<PullPage> {
      const target = since === undefined ? url(endpoint) : `${url(endpoint)}?since=${encodeURIComponent(since)}`;
      return request(target, { method: 'GET', headers: { Accept: 'application/json', ...headers() } }).pipe(
        map((response) => toPullPage(entity, target, response)),
      );
    },
  };
}

/** Method, path, body and If-Match of one push: shared by single and batched requests. */
function describePush({ item, endpoint, overwrite }: PushRequest): { method: string; path: string; body?: unknown; ifMatch?: string } {
  const data = item.data as { id?: string | number };
  const collection = endpoint.replace(/\/$/, '');
  const record = data.id === undefined ? collection : `${collection}/${encodeURIComponent(String(data.id))}`;
  if (overwrite) return item.operation === 'delete' ? { method: 'DELETE', path: record } : { method: 'PUT', path: record, body: item.data };
  if (item.operation === 'create') return { method: 'POST', path: collection, body: item.data };
  const version = versionOf(data);
  const ifMatch = version === undefined ? undefined : String(version);
  return item.operation === 'update' ? { method: 'PATCH', path: record, body: item.data, ifMatch } : { method: 'DELETE', path: record, ifMatch };
}

function toBatchResults(target: string, expected: number, { status, body, retryAfterMs }: TransportResponse): TransportResponse[] {
  if (status < 200 || status >= 300) {
    throw new SyncHttpError(`[rxsync] The batch request POST ${target} answered ${status}.`, status, body, retryAfterMs);
  }
  const results = (body as { results?: unknown } | undefined)?.results;
  const valid =
    Array.isArray(results) &&
    results.length === expected &&
    results.every((r) => typeof r === 'object' && r !== null && typeof (r as { status?: unknown }).status === 'number');
  if (!valid) {
    throw new SyncHttpError(
      `[rxsync] POST ${target} answered ${status} with a body that is not { results: [{ status, body }] } for ${expected} requests (got ${preview(body)}). Make the batch endpoint answer one result per request, in order.`,
      // Not a transient failure: the items go out one by one instead.
      422,
      body,
    );
  }
  return (results as { status: number; body?: unknown }[]).map((r) => ({ status: r.status, body: r.body }));
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * A `Retry-After` header as a wait in milliseconds from `now`: the header holds either seconds
 * or an HTTP date (a date in the past means 0). Undefined when the header is missing or unreadable.
 */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function toPullPage(entity: string, target: string, response: TransportResponse): PullPage {
  const { status, body, retryAfterMs } = response;
  if (status < 200 || status >= 300) {
    throw new SyncHttpError(`[rxsync] Pulling "${entity}" failed: GET ${target} answered ${status}.`, status, body, retryAfterMs);
  }
  const page = body as Partial<PullPage> | undefined;
  if (!page || typeof page !== 'object' || !Array.isArray(page.items)) {
    throw new SyncHttpError(
      `[rxsync] Pulling "${entity}": GET ${target} answered ${status} with a body that is not { items: [...] } (got ${preview(body)}). Make the endpoint return { items, checkpoint?, hasMore? }.`,
      status,
      body,
    );
  }
  if (page.checkpoint !== undefined && typeof page.checkpoint !== 'string' && typeof page.checkpoint !== 'number') {
    throw new SyncHttpError(`[rxsync] Pulling "${entity}": the checkpoint must be a string, got ${preview(page.checkpoint)}.`, status, body);
  }
  return {
    items: page.items,
    checkpoint: page.checkpoint === undefined ? undefined : String(page.checkpoint),
    hasMore: page.hasMore === true,
  };
}
