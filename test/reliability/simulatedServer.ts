import { http, HttpResponse } from 'msw';
import { type SetupServer, setupServer } from 'msw/node';
import { httpTransport } from '../../src/index.js';
import type { HttpTransportOptions, SyncTransport } from '../../src/index.js';

/**
 * Faults the server can be told to inject into the next push requests, one per request (a
 * batch counts as one request; a conflict fault hits its first write):
 * - `503`, `503-retry-after`, `429`: a transient answer; `timeout`, `refused`: no answer;
 * - `lost`: applied, but the answer never arrives; `slow`: applied after a delay the client waits out;
 * - `hang`: the request never gets an answer, until the client gives up on it (its request timeout);
 *   `hang-applied`: the same, after the server applied it;
 * - `redirect`: `303 See Other` to a login page, nothing applied (a captive portal);
 * - `ok-empty`, `ok-html`, `ok-garbled`: applied, answered `200` with an empty body, an HTML page
 *   or truncated JSON (a proxy or portal in between rewrote the answer);
 * - `conflict-empty`, `conflict-error`: `409` with an empty body, or an error object instead of the record.
 */
export const FAULT_KINDS = [
  '503', '503-retry-after', '429', 'timeout', 'refused', 'lost', 'slow',
  'hang', 'hang-applied', 'redirect', 'ok-empty', 'ok-html', 'ok-garbled', 'conflict-empty', 'conflict-error',
] as const;
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
 * server did the work; `bare-conflict`: a 409 without the current record; `redirect`: a 3xx,
 * nothing applied): the model judges dead letters and acks by these.
 */
export type Answer = 'ok' | 'transient' | 'unanswered' | 'conflict' | 'bare-conflict' | 'permanent' | 'redirect';

/** Where a redirected push is sent: a login page, as a captive portal would. */
export const LOGIN_URL = `${SIMULATED_URL}/login`;

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

/** Resolves when the client gives up on the request (its timeout, a clear, a destroyed engine). */
const abandoned = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/** The body a push was answered with, and its status. */
interface Reply {
  status: number;
  body: Data | undefined;
}

/**
 * A REST server behind msw that behaves like the reference one where it matters here: it
 * dedupes by `Idempotency-Key` (a repeated key gets the first 2xx answer and changes
 * nothing; other answers are not stored), answers 409 with the current record when another
 * client edited it, 404 to a PATCH of a missing record, refuses the poison record with 422,
 * takes batches on `POST /_batch`, injects faults, and serves pulls from a change sequence.
 * Every applied write is logged, so a checker can tell what arrived, how often and in which
 * order; every breach of the wire protocol is noted in `violations`. Work a request started
 * goes on even when the client gives up on it.
 */
export class SimulatedServer {
  readonly records = new Map<string, StoredRecord>();
  readonly log: AppliedOp[] = [];
  readonly faults: FaultKind[] = [];
  readonly injected = new Map<FaultKind | 'conflict' | 'permanent', number>();
  /** What each Idempotency-Key was answered, in order. */
  readonly answers = new Map<string, Answer[]>();
  /** Pushes answered with a redirect, and which engine sent them. */
  readonly redirected: { key: string; engine: number | undefined }[] = [];
  /** Records a 409 without the current record was answered for: how they end depends on the strategy. */
  readonly bareConflicts = new Set<string>();
  readonly violations: string[] = [];
  /**
   * Every request must carry an `Authorization` no earlier request carried: the harness's
   * `headers` getter gives a new token on each call, so a request built from an earlier
   * attempt's headers shows. Off for tests that pass fixed headers.
   */
  freshTokens = false;
  /** Called as each pull request arrives, with its `since`. */
  onPullRequest?: (since: string | undefined) => void;
  /** HTTP requests received, pulls included. */
  requests = 0;
  private readonly replies = new Map<string, Reply>();
  private readonly requestOfKey = new Map<string, string>();
  private readonly staleRecords = new Set<string>();
  private readonly staleKeys = new Set<string>();
  /** Requests answered a 409 without the record, and that answer: the same request conflicts again, whenever it comes. */
  private readonly bareKeys = new Map<string, Reply>();
  private readonly tokens = new Set<string>();
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
      if (request.method === 'GET' && url.href.startsWith(LOGIN_URL)) {
        // Where a redirected push would land if it were followed: a page that says 200 to anything.
        return new HttpResponse('<!doctype html><title>Sign in</title><form>…</form>', { status: 200, headers: { 'Content-Type': 'text/html' } });
      }
      this.checkToken(request);
      if (request.method === 'GET') return this.pull(url.searchParams.get('since') ?? undefined);
      if (request.method === 'POST' && url.pathname === '/_batch') return await this.batch(request);
      return await this.push(request);
    } finally {
      this.work--;
    }
  }

  private checkToken(request: Request): void {
    if (!this.freshTokens) return;
    const what = `${request.method} ${new URL(request.url).pathname}`;
    const token = request.headers.get('Authorization');
    if (token === null) this.violations.push(`wire: ${what} carried no Authorization header`);
    else if (this.tokens.has(token)) this.violations.push(`wire: ${what} carried "${token}", the token of an earlier request: headers was not asked again for this attempt`);
    else this.tokens.add(token);
  }

  private count(kind: FaultKind | 'conflict' | 'permanent'): void {
    this.injected.set(kind, (this.injected.get(kind) ?? 0) + 1);
  }

  private answered(key: string, answer: Answer): void {
    const answers = this.answers.get(key) ?? [];
    answers.push(answer);
    this.answers.set(key, answers);
  }

  private takeFault(): FaultKind | undefined {
    const fault = this.faults.shift();
    if (fault) this.count(fault);
    return fault;
  }

  /** Checks one write as it arrived (alone or in a batch) against the protocol; undefined when it is unusable. */
  private received(engine: number | undefined, key: string | null, method: string, path: string, ifMatch: string | null, text: string): WireWrite | undefined {
    if (key === null || key === '') {
      this.violations.push(`wire: ${method} ${path} carried no Idempotency-Key`);
      return undefined;
    }
    // One key, one request: a retry or a re-send after a restart (alone or in a batch) must be the very same request.
    const signature = `${method} ${path} ${ifMatch ?? ''} ${text}`;
    const before = this.requestOfKey.get(key);
    if (before === undefined) this.requestOfKey.set(key, signature);
    else if (before !== signature) this.violations.push(`wire: key ${key} was first sent as "${before}", then as "${signature}"`);
    const body = text === '' ? undefined : (JSON.parse(text) as Data);
    const [, , id] = path.split('/');
    return { engine, key, method: method as WireWrite['method'], record: String(id === undefined ? body?.id : decodeURIComponent(id)), body };
  }

  private engineOf(request: Request): number | undefined {
    const sender = request.headers.get(ENGINE_HEADER);
    return sender === null ? undefined : Number(sender);
  }

  private async push(request: Request): Promise<Response> {
    const text = await request.text();
    const method = request.method;
    const path = new URL(request.url).pathname;
    if (text !== '' && !request.headers.get('Content-Type')?.startsWith('application/json')) {
      this.violations.push(`wire: ${method} ${path} has a body but Content-Type ${request.headers.get('Content-Type')}`);
    }
    const write = this.received(this.engineOf(request), request.headers.get('Idempotency-Key'), method, path, request.headers.get('If-Match'), text);
    if (write === undefined) return HttpResponse.json({ error: 'Idempotency-Key required' }, { status: 400 });
    const fault = this.takeFault();
    const early = await this.networkFault(fault, [write], request.signal);
    if (early) {
      if (fault === 'redirect') {
        this.answered(write.key, 'redirect');
        this.redirected.push({ key: write.key, engine: write.engine });
      }
      return early;
    }
    const { status, body } = this.answer(write, fault);
    switch (fault) {
      case 'ok-empty':
      case 'ok-html':
      case 'ok-garbled':
        if (status >= 200 && status < 300) return garbled(fault, status);
    }
    return body === undefined ? new HttpResponse(null, { status }) : HttpResponse.json(body, { status });
  }

  /** `POST /_batch`: each write answered on its own, in order; a fault hits the batch as a whole. */
  private async batch(request: Request): Promise<Response> {
    const engine = this.engineOf(request);
    const entries = JSON.parse(await request.text()) as unknown;
    if (!Array.isArray(entries)) {
      this.violations.push('wire: a batch that is not an array');
      return HttpResponse.json({ error: 'not an array' }, { status: 400 });
    }
    const writes = entries.map((entry: { key?: string; method?: string; path?: string; body?: unknown; ifMatch?: string | number }) =>
      this.received(engine, entry.key ?? null, String(entry.method), String(entry.path), entry.ifMatch === undefined ? null : String(entry.ifMatch), entry.body === undefined ? '' : JSON.stringify(entry.body)),
    );
    const fault = this.takeFault();
    // A batch redirected answers nothing about its writes: the client sends them one by one.
    const early = await this.networkFault(fault, writes.filter((w) => w !== undefined), request.signal);
    if (early) return early;
    const results = writes.map((write, i) => {
      if (write === undefined) return { key: null, status: 400, body: { error: 'Idempotency-Key required' } };
      // A conflict fault hits the batch's first write; a rewritten answer rewrites the batch's (below).
      return { key: write.key, ...this.answer(write, i === 0 ? fault : undefined) };
    });
    switch (fault) {
      case 'ok-empty':
      case 'ok-html':
      case 'ok-garbled':
        return garbled(fault, 200);
    }
    return HttpResponse.json({ results });
  }

  /**
   * What a fault does to a request before (or instead of) its answer: a response when the
   * fault decides it, undefined when the writes are to be answered as usual.
   */
  private async networkFault(fault: FaultKind | undefined, writes: WireWrite[], signal: AbortSignal): Promise<Response | undefined> {
    const transient = fault && TRANSIENT[fault];
    if (transient) {
      for (const write of writes) this.answered(write.key, 'transient');
      const headers = transient.retryAfter === undefined ? undefined : { 'Retry-After': transient.retryAfter };
      return HttpResponse.json({ error: `${fault} (injected)` }, { status: transient.status, headers });
    }
    const unanswered = (): Response => {
      for (const write of writes) this.answered(write.key, 'unanswered');
      return HttpResponse.error();
    };
    switch (fault) {
      case 'refused':
        return unanswered();
      case 'timeout':
        await sleep(3);
        return unanswered();
      case 'lost':
        // The server applies the writes; the answer never reaches the client.
        for (const write of writes) this.apply(write);
        return unanswered();
      case 'hang-applied':
        for (const write of writes) this.apply(write);
      // falls through: the answer never comes
      case 'hang':
        await abandoned(signal);
        return unanswered();
      case 'slow':
        // Applied later, whether the client still waits or not.
        await sleep(this.slowMs);
        return undefined;
      case 'redirect':
        return new HttpResponse(null, { status: 303, headers: { Location: `${LOGIN_URL}?next=${encodeURIComponent(writes[0]?.key ?? '')}` } });
    }
    return undefined;
  }

  /** The answer to one write, noted under its key as the client will read it. */
  private answer(write: WireWrite, fault: FaultKind | undefined): Reply {
    const reply = fault === 'conflict-empty' || fault === 'conflict-error' ? this.bareConflict(write, fault) : this.apply(write);
    const { status } = reply;
    const bare = status === 409 && reply.body?.id === undefined;
    this.answered(
      write.key,
      bare ? 'bare-conflict' : status === 409 ? 'conflict' : status === 422 || (status === 404 && write.method !== 'DELETE') ? 'permanent' : 'ok',
    );
    return reply;
  }

  /** A 409 without the record, as a server that does not follow the protocol answers: nothing applied. */
  private bareConflict(write: WireWrite, fault: 'conflict-empty' | 'conflict-error'): Reply {
    const replay = this.replies.get(write.key);
    if (replay || write.record === POISON_ID) return this.apply(write);
    this.bareConflicts.add(write.record);
    const reply = { status: 409, body: fault === 'conflict-empty' ? undefined : { error: 'conflict', message: 'the record was changed by someone else' } };
    this.bareKeys.set(write.key, reply);
    return reply;
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
  private apply({ engine, key, method, record, body }: WireWrite): Reply {
    const replay = this.replies.get(key);
    if (replay) return replay;
    // A client-wins re-send (PUT, or DELETE under the `:put` key) overrides whatever the record holds.
    const overwrite = method === 'PUT' || key.endsWith(':put');
    const markers = body ? markersOf(body) : this.markersOfKey(key);
    if (record === POISON_ID) {
      this.count('permanent');
      return { status: 422, body: { error: 'this record is refused (injected permanent 4xx)' } };
    }
    const bare = this.bareKeys.get(key);
    if (bare && !overwrite) return bare;
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

/** A 2xx whose body a proxy or portal in between rewrote: empty, an HTML page, or JSON cut short. */
function garbled(fault: 'ok-empty' | 'ok-html' | 'ok-garbled', status: number): Response {
  switch (fault) {
    case 'ok-empty':
      return new HttpResponse(null, { status });
    case 'ok-html':
      return new HttpResponse('<!doctype html><title>Welcome to the hotel network</title>', { status, headers: { 'Content-Type': 'text/html' } });
    case 'ok-garbled':
      return new HttpResponse('{"id":"a","version":', { status, headers: { 'Content-Type': 'application/json' } });
  }
}

let interceptor: SetupServer | undefined;
let serving: SimulatedServer | undefined;

/**
 * The real `httpTransport`, talking to `server` through msw: headers and keys are checked on
 * the wire. One simulated server answers at a time (the one passed last). `engine` numbers
 * the sender in the server's log; `headers` is passed to the transport as it is (else a fixed
 * object naming the engine). A spec file that uses it calls `stopServingOverHttp` after its
 * tests, so that the next file's own msw server is the only one listening, with or without
 * vitest's isolation between files.
 */
export function overHttp(server: SimulatedServer, engine?: number, headers?: HttpTransportOptions['headers']): SyncTransport {
  serving = server;
  if (!interceptor) {
    interceptor = setupServer(http.all(`${SIMULATED_URL}/*`, ({ request }) => serving!.serve(request)));
    interceptor.listen({ onUnhandledRequest: 'bypass' });
  }
  return httpTransport({ baseUrl: SIMULATED_URL, headers: headers ?? (engine === undefined ? {} : engineHeader(engine)) });
}

/** Stops the msw interception `overHttp` started, if any. */
export function stopServingOverHttp(): void {
  interceptor?.close();
  interceptor = undefined;
  serving = undefined;
}

/** The header naming the engine that sent a request, for the server's log. */
export function engineHeader(engine: number): Record<string, string> {
  return { [ENGINE_HEADER]: String(engine) };
}
