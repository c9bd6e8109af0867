import { map, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { preview, SyncHttpError } from './errors.js';
import { pullListing, type HttpPullOptions } from './http/pullListing.js';
import { parseRetryAfter, readBody } from './http/readResponse.js';
import { versionOf } from './recordVersion.js';
import type { PullPage, PushRequest, SyncTransport, TransportResponse } from './types.js';

export { parseRetryAfter } from './http/readResponse.js';

export interface HttpTransportOptions {
  /** Prefixed to every entity endpoint that is not an absolute URL. */
  baseUrl?: string;
  /** Extra headers for every request, e.g. authorization; called per request. */
  headers?: Record<string, string> | (() => Record<string, string>);
  /** Where `pushBatch` posts (engine option `batchSize` > 1). Default `/_batch`. */
  batchEndpoint?: string;
  /** How pulls are asked and read; default: the protocol's `?since=` feed of `{ items, checkpoint, hasMore }`. */
  pull?: HttpPullOptions;
}

/**
 * The default transport: the REST shape of DESIGN.md §3 over `fetch`. Requests are cold
 * and built with `fromFetch`, so unsubscribing aborts them.
 *
 * - create `POST {endpoint}`, update `PATCH {endpoint}/{id}`, delete `DELETE {endpoint}/{id}`,
 *   a client-wins re-send `PUT {endpoint}/{id}` (a delete is re-sent as a plain `DELETE`);
 * - every push carries `Idempotency-Key` (the item id) and, when the data has a `version`
 *   that the client last saw, `If-Match: {version}` so the server can detect a stale write;
 * - pull is `GET {endpoint}?since={checkpoint}` and must answer `{ items, checkpoint?, hasMore? }`,
 *   unless the `pull` option says otherwise (a plain array, `{ data, next }`, snapshot mode…);
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

    pull({ entity, endpoint, since, state }): Observable<PullPage> {
      return pullListing(options.pull ?? {}, { entity, url: url(endpoint), since, state, headers });
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
