import { preview, SyncHttpError } from '../errors.js';

/** An answer to a pull request, as a {@link PageReader} sees it. */
export interface PullResponse {
  /** The HTTP status; always 2xx here, since other answers fail the pull before a reader is asked. */
  status: number;
  /** Parsed JSON, else the text; `undefined` when empty. */
  body: unknown;
  /** The answer's headers, e.g. `Link` for the next page. */
  headers: Headers;
  /** The URL that was asked. */
  url: string;
  /** The entity being pulled, for messages. */
  entity: string;
}

/** What one answer of a listing holds. */
export interface ReadPage {
  /** The records of this answer (tombstones included), handed to `onPull` as they are. */
  items: unknown[];
  /** The server's position after this page, for change feeds; sent back as the checkpoint. */
  checkpoint?: string;
  /** More changes after `checkpoint`: the engine asks again with it at once. */
  hasMore?: boolean;
  /**
   * The next page of this same listing: a URL, absolute or relative to the one asked. The
   * transport follows it before it answers, so a listing is handed to the app as a whole.
   */
  next?: string;
}

/** Turns a successful (2xx) answer into a page; throws a `SyncHttpError` when the body is not what it expects. */
export type PageReader = (response: PullResponse) => ReadPage;

/**
 * How a pulled checkpoint goes on the request: a query parameter name (left out while there is
 * no checkpoint), or a function building the first URL of a pull from the endpoint URL and the
 * checkpoint (`undefined` on the first pull and in snapshot mode), e.g. to add paging parameters.
 */
export type CheckpointPlacement = string | ((url: string, checkpoint: string | undefined) => string);

/** The first URL of a pull. */
export function placeCheckpoint(url: string, checkpoint: string | undefined, placement: CheckpointPlacement = 'since'): string {
  if (typeof placement === 'function') return placement(url, checkpoint);
  return checkpoint === undefined ? url : withQuery(url, placement, checkpoint);
}

/** `url` with one query parameter set, keeping the rest of the URL as written. */
export function withQuery(url: string, name: string, value: string): string {
  const [path, hash] = splitOnce(url, '#');
  const [base, query] = splitOnce(path, '?');
  const params = new URLSearchParams(query ?? '');
  params.set(name, value);
  return `${base}?${params.toString()}${hash === undefined ? '' : `#${hash}`}`;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** The protocol's own page, `{ items, checkpoint?, hasMore? }` (docs/PROTOCOL.md §7). The default. */
export const feedPage: PageReader = ({ status, body, url, entity }) => {
  const page = body as { items?: unknown; checkpoint?: unknown; hasMore?: unknown } | undefined;
  if (!page || typeof page !== 'object' || !Array.isArray(page.items)) {
    throw new SyncHttpError(
      `[rxsync] Pulling "${entity}": GET ${url} answered ${status} with a body that is not { items: [...] } (got ${preview(body)}). Make the endpoint return { items, checkpoint?, hasMore? }, or choose a page reader that fits it (e.g. pull: { page: arrayPage }).`,
      status,
      body,
    );
  }
  return { items: page.items, checkpoint: checkpointValue(page.checkpoint, status, body, entity), hasMore: page.hasMore === true };
};

/**
 * A plain JSON array, the answer of most REST list endpoints. A `Link: <…>; rel="next"`
 * header (RFC 8288) names the next page, which the transport follows.
 */
export const arrayPage: PageReader = ({ status, body, url, entity, headers }) => {
  if (!Array.isArray(body)) {
    throw new SyncHttpError(
      `[rxsync] Pulling "${entity}": GET ${url} answered ${status} with a body that is not a JSON array (got ${preview(body)}). Use a page reader that fits the endpoint's answer (feedPage, dataPage, or your own).`,
      status,
      body,
    );
  }
  return { items: body, next: linkNext(headers.get('Link')) };
};

/** Where {@link dataPage} finds things in an object answer. */
export interface DataPageOptions {
  /** The field holding the array of records. Default `data`. */
  items?: string;
  /** The field holding what comes next: a URL, or a cursor when `cursorParam` is set. Default `next`. */
  next?: string;
  /** The query parameter the `next` cursor goes in; without it `next` is a URL. */
  cursorParam?: string;
}

/**
 * An object holding the records and what comes next, e.g. `{ data: [...], next: '/todos?page=2' }`
 * or, with `cursorParam: 'cursor'`, `{ data: [...], next: 'abc' }`. Without a `next` in the
 * body, a `Link: rel="next"` header is followed.
 */
export function dataPage(options: DataPageOptions = {}): PageReader {
  const itemsField = options.items ?? 'data';
  const nextField = options.next ?? 'next';
  return ({ status, body, url, entity, headers }) => {
    const page = body as Record<string, unknown> | undefined;
    const items = page && typeof page === 'object' ? page[itemsField] : undefined;
    if (!Array.isArray(items)) {
      throw new SyncHttpError(
        `[rxsync] Pulling "${entity}": GET ${url} answered ${status} with a body that has no "${itemsField}" array (got ${preview(body)}). Set dataPage({ items: '<field>' }) to the field that holds the records.`,
        status,
        body,
      );
    }
    const next = page?.[nextField];
    if (next === undefined || next === null || next === '') return { items, next: linkNext(headers.get('Link')) };
    if (typeof next !== 'string' && typeof next !== 'number') {
      throw new SyncHttpError(`[rxsync] Pulling "${entity}": "${nextField}" must be a string, got ${preview(next)}.`, status, body);
    }
    return { items, next: options.cursorParam === undefined ? String(next) : withQuery(url, options.cursorParam, String(next)) };
  };
}

/**
 * The `rel="next"` target of a `Link` header. Hand-written: a header value is a list of
 * `<uri>; param=value` entries, and a dependency for that one lookup would outweigh it.
 */
export function linkNext(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const [, target, params] of header.matchAll(/<([^>]*)>([^<]*)/g)) {
    const rel = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    const relations = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/);
    if (relations.includes('next')) return target;
  }
  return undefined;
}

function checkpointValue(value: unknown, status: number, body: unknown, entity: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  throw new SyncHttpError(`[rxsync] Pulling "${entity}": the checkpoint must be a string, got ${preview(value)}.`, status, body);
}
