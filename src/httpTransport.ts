import { map, type Observable } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { SyncHttpError } from './errors.js';
import type { PullPage, PushRequest, SyncTransport, TransportResponse } from './types.js';

export interface HttpTransportOptions {
  /** Prefixed to every entity endpoint that is not an absolute URL. */
  baseUrl?: string;
  /** Extra headers for every request, e.g. authorization; called per request. */
  headers?: Record<string, string> | (() => Record<string, string>);
}

/**
 * The default transport: the REST shape of DESIGN.md §3 over `fetch`. Requests are cold
 * and built with `fromFetch`, so unsubscribing aborts them.
 *
 * - create `POST {endpoint}`, update `PATCH {endpoint}/{id}`, delete `DELETE {endpoint}/{id}`,
 *   a client-wins re-send `PUT {endpoint}/{id}` (a delete is re-sent as a plain `DELETE`);
 * - every push carries `Idempotency-Key` (the item id) and, when the data has a `version`
 *   that the client last saw, `If-Match: {version}` so the server can detect a stale write;
 * - pull is `GET {endpoint}?since={checkpoint}` and must answer `{ items, checkpoint?, hasMore? }`.
 *
 * @example
 * ```ts
 * const transport = httpTransport({ baseUrl: 'https://api.example.com', headers: () => ({ Authorization: `Bearer ${token}` }) });
 * ```
 */
export function httpTransport(options: HttpTransportOptions = {}): SyncTransport {
  const url = (endpoint: string, ...path: string[]): string => {
    const base = /^https?:\/\//.test(endpoint) ? endpoint : `${options.baseUrl ?? ''}${endpoint}`;
    return [base.replace(/\/$/, ''), ...path.map(encodeURIComponent)].join('/');
  };
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
    push({ item, endpoint, overwrite }: PushRequest): Observable<TransportResponse> {
      const data = item.data as { id?: string | number; version?: unknown };
      const recordUrl = data.id === undefined ? url(endpoint) : url(endpoint, String(data.id));
      const method = overwrite
        ? item.operation === 'delete' ? 'DELETE' : 'PUT'
        : { create: 'POST', update: 'PATCH', delete: 'DELETE' }[item.operation];
      const target = item.operation === 'create' && !overwrite ? url(endpoint) : recordUrl;
      const sent: Record<string, string> = { ...headers(), 'Idempotency-Key': item.id };
      const version = data.version;
      if (!overwrite && item.operation !== 'create' && (typeof version === 'number' || typeof version === 'string')) {
        sent['If-Match'] = String(version);
      }
      if (method !== 'DELETE') sent['Content-Type'] = 'application/json';
      return request(target, { method, headers: sent, body: method === 'DELETE' ? undefined : JSON.stringify(item.data) });
    },

    pull({ entity, endpoint, since }): Observable<PullPage> {
      const target = since === undefined ? url(endpoint) : `${url(endpoint)}?since=${encodeURIComponent(since)}`;
      return request(target, { method: 'GET', headers: { Accept: 'application/json', ...headers() } }).pipe(
        map((response) => toPullPage(entity, target, response)),
      );
    },
  };
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

/** `Retry-After` is either seconds or an HTTP date. */
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

function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? 'nothing' : text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
