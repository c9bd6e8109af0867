import { Observable } from 'rxjs';
import { SyncHttpError } from '../../src/index.js';
import type { PullPage, PushRequest, SyncTransport, TransportResponse } from '../../src/index.js';

/** Faults the server can be told to inject into the next push requests, one per request. */
export const FAULT_KINDS = ['503', '503-retry-after', '429', 'timeout', 'refused', 'lost', 'slow'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The record id every write to which the server refuses with 422 (a permanent 4xx). */
export const POISON_ID = 'p';

/** One write the server applied (or, for a DELETE of a missing record, accepted as done). */
export interface AppliedOp {
  seq: number;
  key: string;
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  record: string;
  /** The client write markers (write numbers) this request carried. */
  markers: number[];
  /** A DELETE of a record that was not there: 404, changes nothing, stores nothing. */
  noop: boolean;
}

interface StoredRecord {
  data: Record<string, unknown> | undefined; // undefined: deleted / never created
  version: number;
  updatedAt: string;
  changedAt: number;
}

type Data = Record<string, unknown>;

const SERVER_FIELDS = ['version', 'updatedAt'];

/** Write numbers carried by a write's data: `f{n}` fields of creates/updates, `del` of deletes. */
export function markersOf(data: unknown): number[] {
  const markers: number[] = [];
  for (const [key, value] of Object.entries((data ?? {}) as Data)) {
    if ((/^f\d+$/.test(key) || key === 'del') && typeof value === 'number') markers.push(value);
  }
  return markers.sort((a, b) => a - b);
}

/**
 * An in-process server that behaves like the reference one where it matters here: it
 * dedupes by `Idempotency-Key` (a repeated key gets the first 2xx answer and changes
 * nothing; rejected requests store nothing), answers 409 with the current record when
 * another client edited it, refuses the poison record with 422, and injects faults.
 * Every applied write is logged, so a checker can tell what arrived, how often and in
 * which order. Requests are Observables that honour unsubscription (the response is
 * dropped), except that a request the server already received is still processed.
 */
export class SimulatedServer implements SyncTransport {
  readonly records = new Map<string, StoredRecord>();
  readonly log: AppliedOp[] = [];
  /** Markers of writes that got a 409, by item key. */
  readonly conflicts: { key: string; record: string; markers: number[] }[] = [];
  readonly faults: FaultKind[] = [];
  readonly injected = new Map<FaultKind | 'conflict' | 'permanent', number>();
  requests = 0;
  private readonly replies = new Map<string, TransportResponse>();
  private readonly staleRecords = new Set<string>();
  private readonly staleKeys = new Set<string>();
  private readonly work = new Set<ReturnType<typeof setTimeout>>();
  private seq = 0;
  private remoteEdits = 0;

  constructor(private readonly slowMs = 6) {}

  /** Another client edits the record: our client's next write to it (based on the old version) gets 409. */
  remoteEdit(record: string): boolean {
    const stored = this.records.get(record);
    if (!stored?.data) return false;
    stored.data = { ...stored.data, other: ++this.remoteEdits };
    this.touch(stored);
    this.staleRecords.add(record);
    return true;
  }

  /** What the record holds now (app fields only), or undefined when missing or deleted. */
  record(record: string): Data | undefined {
    return this.records.get(record)?.data;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Resolves when every request the server received has been processed. */
  async idle(): Promise<void> {
    while (this.work.size > 0) await new Promise((resolve) => setTimeout(resolve, 1));
  }

  private count(kind: FaultKind | 'conflict' | 'permanent'): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
  }

  /** Server-side work: runs even if the client gives up on the request meanwhile. */
  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.work.delete(timer);
      run();
    }, ms);
    this.work.add(timer);
  }

  push(request: PushRequest): Observable<TransportResponse> {
    return new Observable<TransportResponse>((subscriber) => {
      this.requests++;
      const fault = this.faults.shift();
      if (fault) this.count(fault);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const client = (ms: number, run: () => void): void => {
        timer = setTimeout(run, ms);
      };
      const reply = (response: TransportResponse): void => {
        if (!subscriber.closed) {
          subscriber.next(response);
          subscriber.complete();
        }
      };
      switch (fault) {
        case '503':
          client(0, () => reply({ status: 503, body: { error: 'unavailable (injected)' } }));
          break;
        case '503-retry-after':
          client(0, () => reply({ status: 503, body: { error: 'maintenance (injected)' }, retryAfterMs: 2 }));
          break;
        case '429':
          client(0, () => reply({ status: 429, body: { error: 'slow down (injected)' }, retryAfterMs: 1 }));
          break;
        case 'refused':
          client(0, () => subscriber.error(new TypeError('fetch failed: connect ECONNREFUSED (injected)')));
          break;
        case 'timeout':
          client(3, () => subscriber.error(new DOMException('The operation timed out (injected).', 'TimeoutError')));
          break;
        case 'lost':
          // The server applies the write; the answer never reaches the client.
          client(0, () => {
            this.handle(request);
            subscriber.error(new TypeError('fetch failed: socket hang up after the request was sent (injected)'));
          });
          break;
        case 'slow':
          // The request reached the server, which is slow: it applies the write later, whether the client still waits or not.
          this.later(this.slowMs, () => reply(this.handle(request)));
          break;
        default:
          client(0, () => reply(this.handle(request)));
      }
      return () => clearTimeout(timer);
    });
  }

  pull({ since }: { entity: string; endpoint: string; since?: string }): Observable<PullPage> {
    return new Observable<PullPage>((subscriber) => {
      const timer = setTimeout(() => {
        const after = since === undefined ? 0 : Number(since);
        if (!Number.isFinite(after)) {
          subscriber.error(new SyncHttpError('[test] bad checkpoint', 400));
          return;
        }
        const items = [...this.records.entries()]
          .filter(([, r]) => r.changedAt > after)
          .map(([id, r]) => (r.data ? { ...r.data, id, version: r.version, updatedAt: r.updatedAt } : { id, deleted: true, version: r.version }));
        subscriber.next({ items, checkpoint: String(this.seq), hasMore: false });
        subscriber.complete();
      }, 0);
      return () => clearTimeout(timer);
    });
  }

  private touch(stored: StoredRecord): void {
    stored.version++;
    stored.updatedAt = new Date().toISOString();
    stored.changedAt = ++this.seq;
  }

  /** The protocol: what a request does to the server, and the answer. */
  handle({ item, overwrite }: PushRequest): TransportResponse {
    const replay = this.replies.get(item.id);
    if (replay) return replay;
    const data = item.data as Data;
    const record = String(data.id);
    const method = overwrite ? (item.operation === 'delete' ? 'DELETE' : 'PUT') : ({ create: 'POST', update: 'PATCH', delete: 'DELETE' } as const)[item.operation];
    if (record === POISON_ID) {
      this.count('permanent');
      return { status: 422, body: { error: 'this record is refused (injected permanent 4xx)' } };
    }
    const stored = this.records.get(record) ?? { data: undefined, version: 0, updatedAt: '', changedAt: 0 };
    if (!overwrite && (this.staleKeys.has(item.id) || (this.staleRecords.has(record) && stored.data))) {
      // Based on a version another client has since replaced: the same key stays stale for good.
      this.staleRecords.delete(record);
      if (!this.staleKeys.has(item.id)) {
        this.staleKeys.add(item.id);
        this.conflicts.push({ key: item.id, record, markers: markersOf(data) });
        this.count('conflict');
      }
      if (stored.data) return { status: 409, body: { ...stored.data, id: record, version: stored.version, updatedAt: stored.updatedAt } };
    }
    const clean = (body: Data): Data => Object.fromEntries(Object.entries(body).filter(([k]) => !SERVER_FIELDS.includes(k)));
    let markers = markersOf(data);
    let status = 200;
    switch (method) {
      case 'POST':
        stored.data = clean(data);
        status = 201;
        break;
      case 'PATCH':
        stored.data = { ...(stored.data ?? { id: record }), ...clean(data) };
        break;
      case 'PUT': {
        // A client-wins re-send carries the remote record it overrides: only markers it adds are its own.
        const before = stored.data ?? {};
        markers = markers.filter((m) => before[`f${m}`] !== m);
        stored.data = clean(data);
        break;
      }
      case 'DELETE':
        if (!stored.data) {
          this.log.push({ seq: ++this.seq, key: item.id, method, record, markers, noop: true });
          return { status: 404, body: { error: 'not found' } };
        }
        stored.data = undefined;
        break;
    }
    this.touch(stored);
    this.records.set(record, stored);
    this.log.push({ seq: this.seq, key: item.id, method, record, markers, noop: false });
    const response: TransportResponse = { status, body: stored.data ? { ...stored.data, version: stored.version } : { id: record, deleted: true } };
    this.replies.set(item.id, response);
    return response;
  }
}
