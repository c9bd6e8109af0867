import { http, HttpResponse } from 'msw';
import { setupServer } from 'msw/node';
import { httpTransport } from '../../src/index.js';
import type { SyncTransport } from '../../src/index.js';

/** Faults the server can be told to inject into the next push requests, one per request. */
export const FAULT_KINDS = ['503', '503-retry-after', '429', 'timeout', 'refused', 'lost', 'slow'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The record id every write to which the server refuses with 422 (a permanent 4xx). */
export const POISON_ID = 'p';

/** Where the simulated server answers (through msw: no socket is opened). */
export const SIMULATED_URL = 'http://simulated.rxsync.test';

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
  /** Which engine sent it (1 = the first one of the scenario, then one more per restart). */
  engine?: number;
}

/**
 * What the client was told for one request (`unanswered`: a network error, whether or not the
 * server did the work): the model judges dead letters by these.
 */
export type Answer = 'ok' | 'transient' | 'unanswered' | 'conflict' | 'permanent';

interface StoredRecord {
  data: Record<string, unknown> | undefined; // undefined: deleted / never created
  version: number;
  updatedAt: string;
  changedAt: number;
}

type Data = Record<string, unknown>;

/** A push as it arrived on the wire. */
interface WireWrite {
  engine: number | undefined;
  key: string;
  method: AppliedOp['method'];
  record: string;
  body: Data | undefined;
}

const SERVER_FIELDS = ['version', 'updatedAt'];
const TRANSIENT: Partial<Record<FaultKind, { status: number; retryAfter?: string }>> = {
  '503': { status: 503 },
  // Retry-After in seconds: 2 ms and 1 ms keep virtual time short.
  '503-retry-after': { status: 503, retryAfter: '0.002' },
  '429': { status: 429, retryAfter: '0.001' },
};

/** Write numbers carried by a write's data: `f{n}` fields of creates/updates, `del` of deletes. */
export function markersOf(data: unknown): number[] {
  const markers: number[] = [];
  for (const [key, value] of Object.entries((data ?? {}) as Data)) {
    if ((/^f\d+$/.test(key) || key === 'del') && typeof value === 'number') markers.push(value);
  }
  return markers.sort((a, b) => a - b);
}

const ENGINE_HEADER = 'X-Test-Engine';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A REST server behind msw that behaves like the reference one where it matters here: it
 * dedupes by `Idempotency-Key` (a repeated key gets the first 2xx answer and changes
 * nothing; other answers are not stored), answers 409 with the current record when another
 * client edited it, 404 to a PATCH of a missing record, refuses the poison record with 422,
 * injects faults, and serves pulls
 * from a change sequence. Every applied write is logged, so a checker can tell what
 * arrived, how often and in which order; every breach of the wire protocol is noted in
 * `violations`. Work a request started goes on even when the client gives up on it.
 */
export class SimulatedServer {
  readonly records = new Map<string, StoredRecord>();
  readonly log: AppliedOp[] = [];
  readonly faults: FaultKind[] = [];
  readonly injected = new Map<FaultKind | 'conflict' | 'permanent', number>();
  /** What each Idempotency-Key was answered, in order. */
  readonly answers = new Map<string, Answer[]>();
  readonly violations: string[] = [];
  /** Called as each pull request arrives, with its `since`. */
  onPullRequest?: (since: string | undefined) => void;
  /** HTTP requests received, pulls included. */
  requests = 0;
  private readonly replies = new Map<string, { status: number; body: Data }>();
  private readonly requestOfKey = new Map<string, string>();
  private readonly staleRecords = new Set<string>();
  private readonly staleKeys = new Set<string>();
  private work = 0;
  private seq = 0;
  private remoteEdits = 0;

  /**
   * @param markersOfKey the markers of the item sent under a key: a DELETE carries no body, so
   *   the harness, which sees the queue, says which writes it stands for.
   */
  constructor(
    private readonly markersOfKey: (key: string) => number[] = () => [],
    private readonly slowMs = 6,
  ) {}

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
    while (this.work > 0) await sleep(1);
  }

  /** Answers one HTTP request. */
  async serve(request: Request): Promise<Response> {
    this.work++;
    this.requests++;
    try {
      const url = new URL(request.url);
      const [, , id] = url.pathname.split('/');
      if (request.method === 'GET') return this.pull(url.searchParams.get('since') ?? undefined);
      return await this.push(request, id === undefined ? undefined : decodeURIComponent(id));
    } finally {
      this.work--;
    }
  }

  private count(kind: FaultKind | 'conflict' | 'permanent'): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
  }

  private answered(key: string, answer: Answer): void {
    const answers = this.answers.get(key) ?? [];
    answers.push(answer);
    this.answers.set(key, answers);
  }

  private async push(request: Request, id: string | undefined): Promise<Response> {
    const key = request.headers.get('Idempotency-Key');
    const text = await request.text();
    const method = request.method as WireWrite['method'];
    if (key === null || key === '') {
      this.violations.push(`wire: ${method} ${new URL(request.url).pathname} carried no Idempotency-Key`);
      return HttpResponse.json({ error: 'Idempotency-Key required' }, { status: 400 });
    }
    if (text !== '' && !request.headers.get('Content-Type')?.startsWith('application/json')) {
      this.violations.push(`wire: ${method} with key ${key} has a body but Content-Type ${request.headers.get('Content-Type')}`);
    }
    // One key, one request: a retry or a re-send after a restart must be the very same request.
    const signature = `${method} ${new URL(request.url).pathname} ${request.headers.get('If-Match') ?? ''} ${text}`;
    const before = this.requestOfKey.get(key);
    if (before === undefined) this.requestOfKey.set(key, signature);
    else if (before !== signature) this.violations.push(`wire: key ${key} was first sent as "${before}", then as "${signature}"`);

    const body = text === '' ? undefined : (JSON.parse(text) as Data);
    const sender = request.headers.get(ENGINE_HEADER);
    const write: WireWrite = { engine: sender === null ? undefined : Number(sender), key, method, record: String(id ?? body?.id), body };
    const fault = this.faults.shift();
    if (fault) this.count(fault);
    const transient = fault && TRANSIENT[fault];
    if (transient) {
      this.answered(key, 'transient');
      const headers = transient.retryAfter === undefined ? undefined : { 'Retry-After': transient.retryAfter };
      return HttpResponse.json({ error: `${fault} (injected)` }, { status: transient.status, headers });
    }
    switch (fault) {
      case 'refused':
        this.answered(key, 'unanswered');
        return HttpResponse.error();
      case 'timeout':
        await sleep(3);
        this.answered(key, 'unanswered');
        return HttpResponse.error();
      case 'lost':
        // The server applies the write; the answer never reaches the client.
        this.apply(write);
        this.answered(key, 'unanswered');
        return HttpResponse.error();
      case 'slow':
        // Applied later, whether the client still waits or not.
        await sleep(this.slowMs);
        break;
    }
    const { status, body: answer } = this.apply(write);
    this.answered(key, status === 409 ? 'conflict' : status === 422 || (status === 404 && method !== 'DELETE') ? 'permanent' : 'ok');
    return HttpResponse.json(answer, { status });
  }

  private pull(since: string | undefined): Response {
    this.onPullRequest?.(since);
    const after = since === undefined ? 0 : Number(since);
    if (!Number.isFinite(after)) {
      this.violations.push(`wire: pull with a checkpoint the server never gave: ${since}`);
      return HttpResponse.json({ error: 'bad checkpoint' }, { status: 400 });
    }
    const items = [...this.records.entries()]
      .filter(([, r]) => r.changedAt > after)
      .map(([id, r]) => (r.data ? { ...r.data, id, version: r.version, updatedAt: r.updatedAt } : { id, deleted: true, version: r.version }));
    return HttpResponse.json({ items, checkpoint: String(this.seq), hasMore: false });
  }

  /** Versions of every record, with the change sequence number of its last change. */
  versions(): { id: string; version: number; changedAt: number; deleted: boolean }[] {
    return [...this.records.entries()].map(([id, r]) => ({ id, version: r.version, changedAt: r.changedAt, deleted: r.data === undefined }));
  }

  private touch(stored: StoredRecord): void {
    stored.version++;
    stored.updatedAt = new Date().toISOString();
    stored.changedAt = ++this.seq;
  }

  /** The protocol: what a write does to the server, and the answer. */
  private apply({ engine, key, method, record, body }: WireWrite): { status: number; body: Data } {
    const replay = this.replies.get(key);
    if (replay) return replay;
    // A client-wins re-send (PUT, or DELETE under the `:put` key) overrides whatever the record holds.
    const overwrite = method === 'PUT' || key.endsWith(':put');
    const markers = body ? markersOf(body) : this.markersOfKey(key);
    if (record === POISON_ID) {
      this.count('permanent');
      return { status: 422, body: { error: 'this record is refused (injected permanent 4xx)' } };
    }
    const stored = this.records.get(record) ?? { data: undefined, version: 0, updatedAt: '', changedAt: 0 };
    if (!overwrite && (this.staleKeys.has(key) || (this.staleRecords.has(record) && stored.data))) {
      // Based on a version another client has since replaced: the same key stays stale for good.
      this.staleRecords.delete(record);
      if (!this.staleKeys.has(key)) {
        this.staleKeys.add(key);
        this.count('conflict');
      }
      if (stored.data) return { status: 409, body: { ...stored.data, id: record, version: stored.version, updatedAt: stored.updatedAt } };
    }
    const clean = (data: Data): Data => Object.fromEntries(Object.entries(data).filter(([k]) => !SERVER_FIELDS.includes(k)));
    let applied = markers;
    let status = 200;
    switch (method) {
      case 'POST':
        stored.data = clean(body ?? {});
        status = 201;
        break;
      case 'PATCH':
        // As the protocol says: a PATCH of a missing or deleted record changes nothing (e.g. a request
        // of a crashed client that arrives after its record was deleted).
        if (!stored.data) return { status: 404, body: { error: 'not found' } };
        stored.data = { ...stored.data, ...clean(body ?? {}) };
        break;
      case 'PUT': {
        // A client-wins re-send carries the remote record it overrides: only markers it adds are its own.
        const before = stored.data ?? {};
        applied = markers.filter((m) => before[`f${m}`] !== m);
        stored.data = clean(body ?? {});
        break;
      }
      case 'DELETE':
        if (!stored.data) {
          this.log.push({ seq: ++this.seq, key, method, record, markers, noop: true, engine });
          // As the protocol says: kept under its key, so a late copy cannot delete a newer record.
          const gone = { status: 404, body: { error: 'not found' } };
          this.replies.set(key, gone);
          return gone;
        }
        stored.data = undefined;
        break;
    }
    this.touch(stored);
    this.records.set(record, stored);
    this.log.push({ seq: this.seq, key, method, record, markers: applied, noop: false, engine });
    const answer = { status, body: stored.data ? { ...stored.data, version: stored.version } : { id: record, deleted: true } };
    this.replies.set(key, answer);
    return answer;
  }
}

let listening = false;
let serving: SimulatedServer | undefined;

/**
 * The real `httpTransport`, talking to `server` through msw: headers and keys are checked on
 * the wire. One simulated server answers at a time (the one passed last). `engine` numbers
 * the sender in the server's log.
 */
export function overHttp(server: SimulatedServer, engine?: number): SyncTransport {
  serving = server;
  if (!listening) {
    setupServer(http.all(`${SIMULATED_URL}/*`, ({ request }) => serving!.serve(request))).listen({ onUnhandledRequest: 'bypass' });
    listening = true;
  }
  return httpTransport({ baseUrl: SIMULATED_URL, headers: engine === undefined ? {} : { [ENGINE_HEADER]: String(engine) } });
}
