import { defer, EMPTY, expand, from, map, mergeMap, type Observable, of, switchMap, toArray } from 'rxjs';
import { fromFetch } from 'rxjs/fetch';
import { bodySuffix, preview, SyncHttpError } from '../errors.js';
import type { PullPage } from '../types.js';
import { feedPage, placeCheckpoint, type CheckpointPlacement, type PageReader, type PullResponse, type ReadPage } from './pullAdapters.js';
import { parseRetryAfter, readBody } from './readResponse.js';
import { defaultIdOf, diffSnapshot, type RecordId, type SnapshotOptions, type SynthesizedTombstone } from './snapshot.js';

/** How `httpTransport` pulls: where the checkpoint goes, how an answer becomes a page, snapshot mode. */
export interface HttpPullOptions {
  /**
   * How the checkpoint goes on the request: a query parameter name (default `since`; the first
   * pull, with no checkpoint yet, asks the endpoint as it is), or a function that builds the
   * first URL of a pull from the endpoint URL and the checkpoint (`undefined` when there is none
   * and in snapshot mode), e.g. to add paging parameters.
   */
  since?: CheckpointPlacement;
  /** How an answer becomes a page: `feedPage` (default), `arrayPage`, `dataPage(...)` or your own. */
  page?: PageReader;
  /**
   * The checkpoint of a listing whose answers carry none, from its items (e.g. the newest
   * `updatedAt`). Returning `undefined` keeps the previous checkpoint. Without it, the engine
   * falls back to the time the pull was sent.
   */
  checkpointOf?: (items: readonly unknown[]) => string | undefined;
  /**
   * For list endpoints with no change feed: every pull reads the whole list (following `next`
   * pages), hands every record on, and adds a tombstone `{ id, deleted: true }` for each id the
   * previous listing had and this one lacks. The known ids are kept with the checkpoint, so
   * they survive a restart. No checkpoint is sent (a `since` function is called with `undefined`).
   */
  snapshot?: boolean | SnapshotOptions;
  /**
   * Send the last answer's `ETag` / `Last-Modified` back as `If-None-Match` /
   * `If-Modified-Since` when asking the same URL again; `304` then means nothing changed.
   * Only for listings that were a single page. Default true.
   */
  conditional?: boolean;
  /** Pages one pull follows at most before it fails. Default 1000. */
  maxPages?: number;
}

/** What `httpTransport` keeps between pulls of an entity (JSON, stored with the checkpoint). */
interface ListingState {
  v: 1;
  /** The URL the validators belong to. */
  url?: string;
  etag?: string;
  lastModified?: string;
  /** Snapshot mode: the ids the last listing held. */
  known?: RecordId[];
}

/** One pull as `httpTransport` hands it over. */
export interface ListingRequest {
  entity: string;
  /** The endpoint as an URL (base URL applied). */
  url: string;
  since?: string;
  state?: unknown;
  /** The caller's headers, asked for each request. */
  headers: () => Record<string, string> | Promise<Record<string, string>>;
}

interface Fetched extends PullResponse {
  retryAfterMs?: number;
}

interface Answer {
  response: PullResponse;
  read: ReadPage;
  notModified: boolean;
}

/**
 * One pull of an entity: the first request, then every `next` page of the same listing,
 * combined into one page. Cold; unsubscribing aborts the request under way.
 */
export function pullListing(options: HttpPullOptions, request: ListingRequest): Observable<PullPage> {
  return defer(() => {
    checkOptions(options);
    return listing(options, request);
  });
}

function listing(options: HttpPullOptions, request: ListingRequest): Observable<PullPage> {
  const reader = options.page ?? feedPage;
  const snapshot = options.snapshot === undefined || options.snapshot === false ? undefined : options.snapshot === true ? {} : options.snapshot;
  const maxPages = options.maxPages ?? 1000;
  const previous = readState(request.state);
  const first = placeCheckpoint(request.url, snapshot ? undefined : request.since, options.since);
  const validators = options.conditional !== false && previous?.url === first ? previous : undefined;
  const visited = new Set<string>([first]);

  const get = (url: string, conditional?: ListingState): Observable<Fetched> =>
    defer(() => from(Promise.resolve(request.headers()))).pipe(
      switchMap((headers) => {
        const sent: Record<string, string> = { Accept: 'application/json', ...headers };
        if (conditional?.etag !== undefined) sent['If-None-Match'] = conditional.etag;
        if (conditional?.lastModified !== undefined) sent['If-Modified-Since'] = conditional.lastModified;
        // fetch adds `Cache-Control: no-cache` to a request with validators unless one is set, and
        // servers such as Express then never answer 304; `max-age=0` asks for the same revalidation.
        if (conditional !== undefined) sent['Cache-Control'] ??= 'max-age=0';
        return fromFetch(url, {
          method: 'GET',
          headers: sent,
          selector: async (response) => ({
            status: response.status,
            body: await readBody(response),
            headers: response.headers,
            url,
            entity: request.entity,
            retryAfterMs: parseRetryAfter(response.headers.get('Retry-After')),
          }),
        });
      }),
    );
  const ask = (url: string, conditional?: ListingState): Observable<Answer> =>
    get(url, conditional).pipe(map((fetched) => toAnswer(fetched, reader, conditional !== undefined)));

  /** Vanished ids, each checked with `GET {endpoint}/{id}`: gone, or still there after all. */
  const confirm = (ids: readonly RecordId[]): Observable<{ gone: RecordId[]; alive: unknown[] }> =>
    from(ids).pipe(
      mergeMap((id) => get(`${request.url.replace(/\/$/, '')}/${encodeURIComponent(String(id))}`).pipe(map((fetched) => ({ id, fetched }))), 4),
      toArray(),
      map((checked) => {
        const gone: RecordId[] = [];
        const alive: unknown[] = [];
        for (const { id, fetched } of checked) {
          if (fetched.status === 404 || fetched.status === 410) gone.push(id);
          else if (fetched.status >= 200 && fetched.status < 300 && typeof fetched.body === 'object' && fetched.body !== null) alive.push(fetched.body);
          else throw pullFailed(fetched);
        }
        return { gone, alive };
      }),
    );

  const follow = ({ response, read }: Answer): Observable<Answer> => {
    if (read.next === undefined) return EMPTY;
    const next = resolveUrl(read.next, response.url);
    if (visited.has(next)) {
      throw new SyncHttpError(`[rxsync] Pulling "${request.entity}": the next page ${next} was already read in this pull; the server's paging loops. Fix its next links.`, response.status);
    }
    if (visited.size >= maxPages) {
      throw new SyncHttpError(`[rxsync] Pulling "${request.entity}": still more pages after ${maxPages}; stopped. Raise pull.maxPages if the list is really that long.`, response.status);
    }
    visited.add(next);
    return ask(next);
  };

  return ask(first, validators).pipe(
    expand(follow, 1),
    toArray(),
    switchMap((answers): Observable<PullPage> => {
      if (answers[0].notModified) return of({ items: [], checkpoint: request.since, hasMore: false, state: request.state });
      const items = answers.flatMap((a) => a.read.items);
      const last = answers[answers.length - 1];
      const state: ListingState = { v: 1 };
      if (answers.length === 1) Object.assign(state, validatorsOf(first, last.response.headers));
      if (snapshot) {
        const idOf = snapshot.idOf ?? defaultIdOf;
        const { vanished, known } = diffSnapshot(items, previous?.known ?? [], idOf);
        const confirmed = snapshot.confirmDeletions && vanished.length > 0 ? confirm(vanished) : of({ gone: vanished, alive: [] });
        return confirmed.pipe(
          map(({ gone, alive }) => {
            const tombstones = gone.map((id): SynthesizedTombstone => ({ id, deleted: true }));
            state.known = [...known, ...alive.map(idOf).filter((id) => id !== undefined)];
            return { items: [...items, ...alive, ...tombstones], state };
          }),
        );
      }
      const checkpoint = last.read.checkpoint ?? (options.checkpointOf ? (options.checkpointOf(items) ?? request.since) : undefined);
      return of({ items, checkpoint, hasMore: last.read.hasMore === true, state: Object.keys(state).length > 1 ? state : undefined });
    }),
  );
}

function toAnswer(response: Fetched, reader: PageReader, conditional: boolean): Answer {
  if (response.status === 304 && conditional) return { response, read: { items: [] }, notModified: true };
  if (response.status < 200 || response.status >= 300) throw pullFailed(response);
  const read = reader(response) as ReadPage | undefined;
  const optionalString = (value: unknown) => value === undefined || typeof value === 'string';
  if (typeof read !== 'object' || read === null || !Array.isArray(read.items) || !optionalString(read.checkpoint) || !optionalString(read.next)) {
    throw new SyncHttpError(
      `[rxsync] Pulling "${response.entity}": the page reader returned ${preview(read)} for GET ${response.url}; it must return { items: [...], checkpoint?: string, hasMore?: boolean, next?: string }.`,
      response.status,
      response.body,
    );
  }
  return { response, read, notModified: false };
}

/** Options come from app code that may not be typed: a wrong one fails every pull with what to fix. */
function checkOptions({ since, page, checkpointOf, maxPages, snapshot }: HttpPullOptions): void {
  const problems: [wrong: boolean, message: string][] = [
    [since !== undefined && typeof since !== 'string' && typeof since !== 'function', `pull.since must be a query parameter name or a function, got ${preview(since)}`],
    [page !== undefined && typeof page !== 'function', `pull.page must be a page reader function (feedPage, arrayPage, dataPage(...)), got ${preview(page)}`],
    [checkpointOf !== undefined && typeof checkpointOf !== 'function', `pull.checkpointOf must be a function, got ${preview(checkpointOf)}`],
    [maxPages !== undefined && !(Number.isInteger(maxPages) && maxPages > 0), `pull.maxPages must be a positive integer, got ${preview(maxPages)}`],
    [
      snapshot !== undefined && typeof snapshot !== 'boolean' && (typeof snapshot !== 'object' || snapshot === null),
      `pull.snapshot must be true, false or { idOf?, confirmDeletions? }, got ${preview(snapshot)}`,
    ],
  ];
  const problem = problems.find(([wrong]) => wrong);
  if (problem) throw new TypeError(`[rxsync] httpTransport: ${problem[1]}.`);
}

function pullFailed({ status, body, url, entity, retryAfterMs }: Fetched): SyncHttpError {
  return new SyncHttpError(`[rxsync] Pulling "${entity}" failed: GET ${url} answered ${status}${bodySuffix(body)}.`, status, body, retryAfterMs);
}

function validatorsOf(url: string, headers: Headers): Partial<ListingState> {
  const etag = headers.get('ETag') ?? undefined;
  const lastModified = headers.get('Last-Modified') ?? undefined;
  return etag === undefined && lastModified === undefined ? {} : { url, etag, lastModified };
}

/** A stored state as written by this module; anything else (an older format, another transport's) starts afresh. */
function readState(value: unknown): ListingState | undefined {
  const state = value as ListingState | null | undefined;
  if (typeof state !== 'object' || state === null || state.v !== 1) return undefined;
  const optionalString = (v: unknown) => v === undefined || typeof v === 'string';
  const valid =
    optionalString(state.url) &&
    optionalString(state.etag) &&
    optionalString(state.lastModified) &&
    (state.known === undefined || (Array.isArray(state.known) && state.known.every((id) => typeof id === 'string' || typeof id === 'number')));
  return valid ? state : undefined;
}

/** A next link relative to the page that named it; in a browser a relative endpoint is relative to the page. */
function resolveUrl(target: string, base: string): string {
  const origin = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(target, origin === undefined ? base : new URL(base, origin)).toString();
  } catch {
    return target;
  }
}
