/**
 * The `/_events` route of the reference server: a `text/event-stream` (server-sent events) of
 * pokes. After every committed change each open stream gets one event `poke` whose `id` and
 * `data` are the feed's new position (no record data): the client's cue to pull. A client that
 * reconnects with a `Last-Event-ID` other than the current position gets one poke at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { header, HttpError } from './http.js';
import type { ChangeWatch, SyncStore } from './store.js';

export interface EventStreamOptions {
  /** A comment line is sent this often, so proxies and clients see the connection is alive. Default 15000 ms. */
  heartbeatMs: number;
  /** The reconnection delay the server asks EventSource clients to use (the `retry:` field). Default 1000 ms. */
  retryMs: number;
}

export const DEFAULT_EVENT_STREAM_OPTIONS: Readonly<EventStreamOptions> = Object.freeze({ heartbeatMs: 15_000, retryMs: 1000 });

/** Positions are decimal strings of up to 19 digits (SQLite sequence, PostgreSQL transaction id). */
function isAfter(position: string, than: string | undefined): boolean {
  return than === undefined || BigInt(position) > BigInt(than);
}

export function checkEventStreamOptions(options: Partial<EventStreamOptions> = {}): EventStreamOptions {
  const merged = { ...DEFAULT_EVENT_STREAM_OPTIONS, ...options };
  for (const name of ['heartbeatMs', 'retryMs'] as const) {
    const value = merged[name];
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`[rxsync] events.${name} must be a whole number of milliseconds of at least 1, got ${String(value)}`);
  }
  return merged;
}

/** The open `/_events` streams of one server and the store watch that feeds them. */
export class EventStreams {
  private readonly heartbeats = new Map<ServerResponse, NodeJS.Timeout>();
  /** Streams whose client has not read what was written yet. */
  private readonly behind = new WeakSet<ServerResponse>();
  private position: string | undefined;
  private watching: Promise<ChangeWatch> | undefined;
  private closed = false;

  constructor(
    private readonly db: SyncStore,
    private readonly options: EventStreamOptions,
  ) {}

  /** How many streams are open. */
  get size(): number {
    return this.heartbeats.size;
  }

  /** Follows the store from the first stream on (a store that cannot is answered 501). */
  private watch(): Promise<ChangeWatch> {
    const { db } = this;
    if (!db.watch) throw new HttpError(501, `This server's ${db.kind} store cannot follow changes, so /_events is not available`);
    if (!this.watching) {
      this.watching = db.watch((position) => this.poke(position)).then((watch) => {
        if (isAfter(watch.position, this.position)) this.position = watch.position;
        return watch;
      });
      // A failed start is answered to that request; the next one tries again.
      this.watching.catch(() => (this.watching = undefined));
    }
    return this.watching;
  }

  /** Answers a `GET /_events`: the stream stays open until the client or the server closes it. */
  async open(res: ServerResponse, lastEventId: string | null): Promise<void> {
    await this.watch();
    if (this.closed) throw new HttpError(503, 'The server is shutting down');
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
    res.write(`retry: ${this.options.retryMs}\n\n`);
    // Missed pokes, or a history this server does not know (another database, a reset one).
    if (lastEventId !== null && this.position !== undefined && lastEventId !== this.position) this.send(res, this.position);
    this.heartbeats.set(
      res,
      setInterval(() => res.write(': heartbeat\n\n'), this.options.heartbeatMs),
    );
    res.once('close', () => this.forget(res));
  }

  private forget(res: ServerResponse): void {
    clearInterval(this.heartbeats.get(res));
    this.heartbeats.delete(res);
  }

  private poke(position: string): void {
    if (!isAfter(position, this.position)) return;
    this.position = position;
    for (const res of this.heartbeats.keys()) this.send(res, position);
  }

  /**
   * Writes a poke, unless the client has not read the previous ones yet: then only the newest
   * position is sent once it has, as one poke stands for all before it.
   */
  private send(res: ServerResponse, position: string): void {
    if (!res.writableNeedDrain) {
      res.write(`event: poke\nid: ${position}\ndata: ${position}\n\n`);
      return;
    }
    if (this.behind.has(res)) return;
    this.behind.add(res);
    res.once('drain', () => {
      this.behind.delete(res);
      if (this.heartbeats.has(res) && this.position !== undefined) this.send(res, this.position);
    });
  }

  /** Ends every stream and stops following the store. */
  async close(): Promise<void> {
    this.closed = true;
    for (const res of [...this.heartbeats.keys()]) {
      this.forget(res);
      res.end();
    }
    const watch = await this.watching?.catch(() => undefined);
    await watch?.stop();
  }
}

/** The `Last-Event-ID` of a reconnecting client: the header, or the `lastEventId` query parameter of clients that cannot set headers. */
export function lastEventIdOf(req: IncomingMessage, url: URL): string | null {
  return header(req, 'last-event-id') ?? url.searchParams.get('lastEventId');
}
