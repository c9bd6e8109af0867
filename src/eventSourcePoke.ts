import { defer, filter, from, map, Observable, of, retry, type SchedulerLike, switchMap, timer } from 'rxjs';
import { SyncOptionsError } from './errors.js';
import { backoffDelay } from './operators/retryBackoff.js';

/** The part of the WHATWG `EventSource` that {@link eventSourcePoke} uses. */
export interface EventSourceLike {
  /** 0 connecting, 1 open, 2 closed (for good: the source does not reconnect by itself). */
  readonly readyState: number;
  /** Listens for `open`, `error` and named events (here `poke`), whose `lastEventId` is the event's `id:`. */
  addEventListener(type: string, listener: (event: { data?: unknown; lastEventId?: string }) => void): void;
  /** Ends the connection for good. */
  close(): void;
}

/** What {@link eventSourcePoke} passes to an `EventSource` constructor. */
export interface EventSourceInit {
  /** Send cookies to another origin. */
  withCredentials?: boolean;
  /** Used for each connection by EventSources that take one (the `eventsource` package); browsers' own ignore it. */
  fetch?: (input: string | URL, init?: RequestInit) => Promise<Response>;
}

/** An `EventSource` class: the browser's, or the `eventsource` package's. */
export type EventSourceConstructor = new (url: string, init?: EventSourceInit) => EventSourceLike;

/** Options of {@link eventSourcePoke}. */
export interface EventSourcePokeOptions {
  /**
   * The `EventSource` class to use. Default: `globalThis.EventSource`, or where there is none
   * (Node 20) or `headers` are given, the optional dependency `eventsource` (version 4),
   * imported on the first subscription only.
   */
  EventSource?: EventSourceConstructor;
  /** Send cookies to another origin (the server must allow credentials). Default false. */
  withCredentials?: boolean;
  /**
   * Headers for every connection, e.g. `Authorization`; a function is asked again for each
   * (re)connection, so a token can be refreshed. Browsers' own EventSource cannot send headers,
   * so with this option the `eventsource` package is used unless `EventSource` is given.
   */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** First wait before opening a closed stream again. Default 1000 ms; it doubles up to `reconnectMaxDelayMs`. */
  reconnectBaseDelayMs?: number;
  /** Longest wait before opening a closed stream again. Default 30000 ms. */
  reconnectMaxDelayMs?: number;
  /** Times the reconnection waits; a `TestScheduler` makes them virtual. */
  scheduler?: SchedulerLike;
}

/** Values on the way: the stream opened (resets the backoff), or a poke. */
type Signal = { opened: true } | { checkpoint: string };

const CLOSED = 2;
/** Longer is not a checkpoint this source passes on. */
const MAX_CHECKPOINT_LENGTH = 1000;

/**
 * The `eventsource` package, through a specifier bundlers leave alone: browsers never load it.
 * @param why what the global EventSource lacks, for the error when the package is missing
 */
async function packagedEventSource(why: string): Promise<EventSourceConstructor> {
  const name = 'eventsource';
  try {
    const loaded = (await import(/* @vite-ignore */ /* webpackIgnore: true */ name)) as { EventSource: EventSourceConstructor };
    return loaded.EventSource;
  } catch (cause) {
    throw new SyncOptionsError(
      `[rxsync] eventSourcePoke needs an EventSource: ${why}, and the eventsource package could not be loaded (${String(cause)}); run npm install eventsource@4, or pass options.EventSource`,
    );
  }
}

/** The class to use; at once when there is one at hand, so a browser connects on subscribe. */
function eventSourceClass(options: EventSourcePokeOptions): Observable<EventSourceConstructor> {
  if (options.EventSource) return of(options.EventSource);
  const native = (globalThis as { EventSource?: EventSourceConstructor }).EventSource;
  if (!native) return from(packagedEventSource('this runtime has none'));
  return options.headers ? from(packagedEventSource("the runtime's own cannot send headers")) : of(native);
}

function checkDelay(name: 'reconnectBaseDelayMs' | 'reconnectMaxDelayMs', value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new SyncOptionsError(`[rxsync] eventSourcePoke: ${name} must be a number of milliseconds of at least 0, got ${String(value)}`);
  }
}

/**
 * A source for the engine's `poke$`: the checkpoint of each poke a server-sent event stream
 * sends (the reference server's `GET /_events`, events named `poke`). It opens the stream on
 * subscribe and closes it on unsubscribe. The EventSource reconnects by itself after a lost
 * connection, sending the last event id so the server can tell it missed a poke; when the
 * stream is closed for good (an answer other than 200, e.g. 401 or 503) it is opened again
 * after a backoff (doubling from `reconnectBaseDelayMs`, reset once it is open again). It never
 * completes on its own; it errors only when no EventSource can be found.
 *
 * In browsers it uses the global `EventSource`; where there is none (Node 20) it imports the
 * optional dependency `eventsource` (npm install eventsource@4) on first use.
 *
 * @param url the stream, e.g. `https://api.example.com/_events` (relative URLs resolve against the page)
 * @throws SyncOptionsError for a URL or delay it cannot use
 *
 * @example
 * ```ts
 * import { createSyncEngine, eventSourcePoke } from 'rxsync';
 *
 * const engine = createSyncEngine({ ...options, poke$: eventSourcePoke('https://api.example.com/_events') });
 * ```
 */
export function eventSourcePoke(url: string | URL, options: EventSourcePokeOptions = {}): Observable<string> {
  let target: URL;
  try {
    target = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    target = new URL('invalid:');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new SyncOptionsError(`[rxsync] eventSourcePoke needs an absolute http(s) URL (or one relative to the page), got ${JSON.stringify(String(url))}`);
  }
  checkDelay('reconnectBaseDelayMs', options.reconnectBaseDelayMs);
  checkDelay('reconnectMaxDelayMs', options.reconnectMaxDelayMs);
  const { headers } = options;
  const init: EventSourceInit = {
    withCredentials: options.withCredentials ?? false,
    ...(headers && {
      fetch: async (input, request) => fetch(input, { ...request, headers: { ...(request?.headers as Record<string, string>), ...(typeof headers === 'function' ? await headers() : headers) } }),
    }),
  };

  return defer(() => {
    // Per subscription: a stream opened again tells the server the last poke it got.
    let lastEventId: string | undefined;
    const connect = (EventSource: EventSourceConstructor) =>
      new Observable<Signal>((subscriber) => {
        const address = new URL(target);
        if (lastEventId !== undefined) address.searchParams.set('lastEventId', lastEventId);
        const source = new EventSource(address.href, init);
        source.addEventListener('open', () => subscriber.next({ opened: true }));
        source.addEventListener('poke', (event) => {
          if (typeof event.data !== 'string' || event.data === '' || event.data.length > MAX_CHECKPOINT_LENGTH) return;
          if (event.lastEventId) lastEventId = event.lastEventId;
          subscriber.next({ checkpoint: event.data });
        });
        source.addEventListener('error', () => {
          if (source.readyState === CLOSED) subscriber.error(new Error(`[rxsync] the event stream ${target.href} was closed; opening it again`));
        });
        return () => source.close();
      });
    return eventSourceClass(options).pipe(
      switchMap((EventSource) =>
        connect(EventSource).pipe(
          retry({
            resetOnSuccess: true,
            delay: (_error, attempt) =>
              timer(backoffDelay(attempt, { baseDelayMs: options.reconnectBaseDelayMs, maxDelayMs: options.reconnectMaxDelayMs }), options.scheduler),
          }),
        ),
      ),
    );
  }).pipe(
    filter((signal): signal is { checkpoint: string } => 'checkpoint' in signal),
    map((signal) => signal.checkpoint),
  );
}
