import {
  asyncScheduler,
  BehaviorSubject,
  catchError,
  defer,
  filter,
  finalize,
  from,
  ignoreElements,
  merge,
  mergeMap,
  type Observable,
  of,
  pairwise,
  retry,
  type SchedulerLike,
  Subject,
  switchMap,
  take,
  takeUntil,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs';
import { AuthGate } from './authGate.js';
import { classifyResponse, isTransportResponse, type PushOutcome, remoteRecord } from './classifyResponse.js';
import { describeError, preview, SyncHttpError, SyncInputError, withoutPrefix } from './errors.js';
import type { OutboxCommand } from './outbox.js';
import { resolveConflict, type ResolvedConflict } from './operators/resolveConflict.js';
import { backoffDelay, retryBackoff } from './operators/retryBackoff.js';
import { whenOnline } from './operators/whenOnline.js';
import { recordIdOf, versionOf } from './recordFields.js';
import { requestLimiter } from './requestLimiter.js';
import type { Conflict, EntityConfig, PushRequest, SyncEvent, SyncItem, SyncTransport, TransportResponse, UnauthorizedContext } from './types.js';

/** What the pusher sends from: the outbox, seen through the few things sending needs. */
export interface PushQueue {
  /** Emits whenever items may have become ready to send. */
  readonly ready$: Observable<void>;
  /** Emits when the queue was cleared: every delivery stops and its request is aborted. */
  readonly cleared$: Observable<void>;
  /** Emits when the app asked for the queue to be sent now (`flush()`). */
  readonly nudged$: Observable<void>;
  /** Takes up to `limit` ready items and marks them in flight. */
  take(limit: number): SyncItem[];
  /** The item as the queue holds it now (its retry count may have grown since it was taken). */
  get(id: string): SyncItem | undefined;
  /** Makes a command durable; resolves once it is stored. */
  commit(command: OutboxCommand): Promise<unknown>;
}

/** One thing that happened to an item: an event to report and, mostly, the outbox command it implies. */
export interface PushReport {
  event: SyncEvent;
  command?: OutboxCommand;
  /** The record as the server now holds it, from its answer to our own write: for the app. */
  record?: { entity: string; data: unknown };
}

export interface PusherOptions<E extends string> {
  entities: Record<E, EntityConfig>;
  transport: SyncTransport;
  online$: Observable<boolean>;
  /** Requests under way at once. */
  concurrency: number;
  /** Items per `pushBatch` request; 1 sends each on its own. */
  batchSize: number;
  maxRetries: number;
  /** A request without an answer after this long is aborted and retried. */
  requestTimeoutMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  retryJitter: number;
  scheduler?: SchedulerLike;
  now: () => number;
  onConflict?: (conflict: Conflict) => unknown;
  /** Renews credentials after a 401; without it a 401 is a final answer like any other 4xx. */
  onUnauthorized?: (context: UnauthorizedContext) => unknown;
}

/** How one delivery ended. */
type Settled = { status: number; body?: unknown; version?: string | number; reason?: string };

/**
 * Sends the outbox: takes ready items while online, sends them alone or in batches with
 * backoff retry, resolves conflicts by each entity's strategy, and reports every outcome as
 * an event plus the outbox command it implies. It keeps no queue and knows nothing of
 * storage or status, so it can be driven in virtual time.
 */
export class Pusher<E extends string> {
  /** The earliest retry scheduled now, in ms since the epoch, or undefined. */
  readonly nextRetryAt$: Observable<number | undefined>;

  readonly #limit: <T>(request$: Observable<T>) => Observable<T>;
  readonly #window: number;
  readonly #retryAt = new Map<string, number>();
  readonly #nextRetryAt = new BehaviorSubject<number | undefined>(undefined);
  /** Reports that come from no delivery's own stream: retries scheduled, the auth gate's events. */
  readonly #reports = new Subject<PushReport>();
  readonly #auth: AuthGate | undefined;
  /** Client-wins decisions that storage refused, per item, in a row. */
  readonly #unstored = new Map<string, number>();
  #inFlight = 0;

  readonly #options: PusherOptions<E>;

  constructor(options: PusherOptions<E>) {
    this.#options = options;
    this.#limit = requestLimiter(options.concurrency);
    this.#window = options.concurrency * 4 * options.batchSize;
    this.nextRetryAt$ = this.#nextRetryAt.asObservable();
    const { onUnauthorized: hook, requestTimeoutMs: timeoutMs, scheduler } = options;
    this.#auth = hook && new AuthGate({ hook, timeoutMs, scheduler, report: (event) => this.#reports.next({ event }) });
  }

  /** The push pipeline over `queue`; outcomes come out, nothing else is touched. */
  push$(queue: PushQueue): Observable<PushReport> {
    const { online$, entities, batchSize } = this.#options;
    const deliveries$ = merge(queue.ready$, online$.pipe(filter((online) => online))).pipe(
      whenOnline(online$, { hold: 'latest' }),
      mergeMap(() => {
        const items = queue.take(this.#window - this.#inFlight);
        // Items of an entity no longer configured go alone: deliver() dead-letters them with the reason.
        const known = items.filter((item) => item.entity in entities);
        const unknown = items.filter((item) => !(item.entity in entities));
        return from([...chunk(known, batchSize), ...unknown.map((item) => [item])]);
      }),
      mergeMap((batch) => {
        this.#inFlight += batch.length;
        const delivery$ = batch.length === 1 ? this.#deliver(queue, batch[0]) : this.#deliverBatch(queue, batch);
        return delivery$.pipe(
          takeUntil(queue.cleared$),
          finalize(() => {
            this.#inFlight -= batch.length;
            for (const item of batch) {
              this.#forgetRetry(item.id);
              this.#unstored.delete(item.id);
            }
          }),
        );
      }),
    );
    // A flush or a reconnect opens a gate that a failed credential renewal closed.
    const authRetry$ = merge(queue.nudged$, online$.pipe(pairwise(), filter(([was, is]) => !was && is))).pipe(
      tap(() => this.#auth?.retry()),
      ignoreElements(),
    );
    return merge(this.#reports, authRetry$, deliveries$);
  }

  /** Sends one item until it is delivered, resolved as a conflict, or given up on. */
  #deliver(queue: PushQueue, item: SyncItem): Observable<PushReport> {
    const entity: EntityConfig | undefined = this.#options.entities[item.entity as E];
    if (entity === undefined) {
      return of(
        this.#failed(
          item,
          `[rxsync] Entity "${item.entity}" is not configured any more, so this write cannot be sent. Add it back to options.entities and call reprocessFailed(), or clear it.`,
        ),
      );
    }
    const request = toRequest(item, entity);
    const unauthorized = (response: TransportResponse) => this.#awaitsRenewal(item, response);
    const send = () => this.#options.transport.push(request).pipe(tap((answer) => throwIfRetry(request.item, answerOf(answer, item))));
    return this.#retrying(queue, [item], send, unauthorized).pipe(
      mergeMap((response) => this.#answered(queue, item, response)),
      catchError((error: unknown) => of(this.#gaveUp(item, error))),
    );
  }

  /**
   * Sends several items in one request. The request as a whole is retried like a single
   * push; then each item's own answer is handled on its own: a transient one goes back to
   * single delivery, so one bad item never fails the others. A server without a usable
   * batch endpoint gets the items one by one.
   */
  #deliverBatch(queue: PushQueue, items: readonly SyncItem[]): Observable<PushReport> {
    const requests = items.map((item) => toRequest(item, this.#options.entities[item.entity as E]));
    return this.#retrying(queue, items, () => this.#options.transport.pushBatch!(requests)).pipe(
      catchError((error: unknown) =>
        error instanceof SyncHttpError && !error.transient
          ? of(undefined)
          : throwError(() => error),
      ),
      mergeMap((responses) => {
        if (responses === undefined) return from(items).pipe(mergeMap((item) => this.#deliver(queue, item)));
        // A transport of the app's own may answer anything: a write without a usable answer goes alone.
        const given: unknown[] = Array.isArray(responses) ? responses : [];
        const answers = items.map((_, i) => (isTransportResponse(given[i]) ? given[i] : undefined));
        const unanswered = answers.filter((answer) => answer === undefined).length;
        const notice: PushReport[] =
          unanswered === 0
            ? []
            : [{ event: { type: 'notice', message: `[rxsync] The transport's pushBatch() gave no usable answer ({ status, body }) for ${unanswered} of ${items.length} writes; they are sent one by one.` } }];
        return merge(
          from(notice),
          from(items.map((item, i) => ({ item, response: answers[i] }))).pipe(
            mergeMap(({ item, response }) =>
              // A 401 goes alone too: the single delivery waits for renewed credentials.
              response === undefined || readAnswer(item, response).kind === 'retry' || this.#awaitsRenewal(item, response)
                ? this.#deliver(queue, item)
                : this.#answered(queue, item, response).pipe(catchError((error: unknown) => of(this.#gaveUp(item, error)))),
            ),
          ),
        );
      }),
      catchError((error: unknown) => from(items.map((item) => this.#gaveUp(item, error)))),
    );
  }

  /** A 401 (not read otherwise by the transport's `classify`) waits for `onUnauthorized`, when there is one. */
  #awaitsRenewal(item: SyncItem, response: TransportResponse): boolean {
    return this.#auth !== undefined && response.status === 401 && readAnswer(item, response).kind === 'fail';
  }

  /** A final answer to a push: delivered, refused, or a conflict to resolve. */
  #answered(queue: PushQueue, item: SyncItem, response: TransportResponse): Observable<PushReport> {
    const { kind, reason } = readAnswer(item, response);
    if (kind === 'ack') return from(this.#settle(item, { status: response.status, body: response.body, version: versionOf(response.body), reason }));
    if (kind !== 'conflict') {
      return of(
        this.#failed(item, `[rxsync] The server refused ${describeItem(item)} with ${reason ?? response.status}. Fix the data and call reprocessFailed(), or clear it.`),
      );
    }
    if (item.overwrite) {
      return of(this.#failed(item, `[rxsync] ${describeItem(item)} still conflicts after the client-wins re-send; kept as a dead letter.`));
    }
    const entity = this.#options.entities[item.entity as E];
    // Only a usable record is the server's side of the conflict: an error object is not.
    const conflict: Conflict = { entity: item.entity, localItem: item, remoteData: remoteRecord(response, item) };
    return of(conflict).pipe(
      resolveConflict({ strategy: entity.conflictStrategy ?? 'server-wins', onConflict: this.#options.onConflict }),
      mergeMap((resolved) => merge(of({ event: conflictEvent(resolved) }), this.#applyResolution(queue, resolved))),
    );
  }

  #applyResolution(queue: PushQueue, resolved: ResolvedConflict): Observable<PushReport> {
    const { localItem: item, resolution } = resolved;
    switch (resolution.outcome) {
      case 'server-wins':
        // The server's record is the record now: the app gets it once the lost write has left
        // the outbox (so it is not shown on top); a 409 without one leaves nothing to hand on.
        return from(this.#settle(item, { status: 409, body: resolved.remoteData }));
      case 'client-wins': {
        if (item.operation === 'update' && resolved.remoteData === undefined && resolution.strategy !== 'manual') {
          // An update is partial: without the server's record there is no whole record to PUT.
          return of(
            this.#failed(
              item,
              `[rxsync] The server answered a conflict to ${describeItem(item)} without its current record, so ${resolution.strategy} cannot build the whole record to overwrite it with. Pull, then write the record again; this write stays in failed$.`,
            ),
          );
        }
        const overwrite: SyncItem = { ...item, data: resolution.data, overwrite: true };
        return defer(() => queue.commit({ type: 'resolve', id: item.id, data: resolution.data })).pipe(
          mergeMap(() => this.#deliver(queue, queue.get(item.id) ?? overwrite)),
          catchError((error: unknown) => this.#decisionNotStored(queue, item, error)),
        );
      }
      case 'error':
        return of(this.#failed(item, resolution.error));
    }
  }

  /**
   * The decision could not be made durable, so it must not be sent: the item goes again from
   * its original request (which the server did not apply: it answered a conflict) after a
   * backoff, and only storage that keeps failing makes it a dead letter.
   */
  #decisionNotStored(queue: PushQueue, item: SyncItem, error: unknown): Observable<PushReport> {
    const attempt = (this.#unstored.get(item.id) ?? 0) + 1;
    const message = `[rxsync] Could not store the client-wins decision for ${describeItem(item)} (${withoutPrefix(error)}); nothing was re-sent.`;
    if (attempt > this.#options.maxRetries) {
      this.#unstored.delete(item.id);
      return of(this.#failed(item, `${message} Gave up after ${attempt} tries; call reprocessFailed() once storage works.`));
    }
    this.#unstored.set(item.id, attempt);
    const delayMs = backoffDelay(attempt, { baseDelayMs: this.#options.retryBaseDelayMs, maxDelayMs: this.#options.retryMaxDelayMs, jitter: this.#options.retryJitter });
    return merge(
      of<PushReport>({ event: { type: 'retried', item, attempt, delayMs, error: message } }),
      timer(delayMs, this.#options.scheduler).pipe(mergeMap(() => this.#deliver(queue, item))),
    );
  }

  /**
   * A request with retries: waits for online before each attempt and for a free place among
   * `concurrency` requests; transient failures back off, and coming back online cuts a
   * backoff wait short. Each retry counts for every item.
   */
  #retrying<T>(
    queue: PushQueue,
    items: readonly SyncItem[],
    request: () => Observable<T>,
    unauthorized: (answer: T) => boolean = () => false,
  ): Observable<T> {
    const { online$, maxRetries, scheduler, requestTimeoutMs } = this.#options;
    const auth = this.#auth;
    const attempt$ = defer(() => {
      // A retry that starts is no longer scheduled.
      for (const item of items) this.#forgetRetry(item.id);
      return online$;
    }).pipe(
      filter((online) => online),
      take(1),
      switchMap(() => auth?.open$ ?? of(0)),
      switchMap((generation) =>
        this.#limit(
          defer(request).pipe(
            timeout({
              first: requestTimeoutMs,
              with: () => throwError(() => new SyncHttpError(`[rxsync] No answer to ${describeItems(items)} within ${requestTimeoutMs} ms; the request was aborted.`, 0)),
              scheduler: scheduler ?? asyncScheduler,
            }),
          ),
        ).pipe(
          tap({
            next: (answer) => {
              if (unauthorized(answer)) {
                const { status, body } = answer as TransportResponse;
                throw new Unauthorized(generation, { item: items[0], status, body });
              }
              auth?.answered(generation);
            },
            // Any other answer of the server's proves the credentials; a 401 to a whole batch does not.
            error: (error: unknown) => error instanceof SyncHttpError && error.status > 0 && error.status !== 401 && auth?.answered(generation),
          }),
        ),
      ),
      catchError((error: unknown) =>
        throwError(() =>
          error instanceof SyncHttpError || error instanceof SyncInputError
            ? error
            : new SyncHttpError(`[rxsync] Network error sending ${describeItems(items)}: ${sentence(withoutPrefix(error))}`, 0),
        ),
      ),
    );
    return attempt$.pipe(
      // A 401 waits for renewed credentials and goes again: not a retry that counts.
      retry({ delay: (error: unknown) => (auth && error instanceof Unauthorized ? auth.unauthorized(error.generation, error.context) : throwError(() => error)) }),
      retryBackoff({
        maxRetries,
        // A batch goes on while any of its writes has retries left: no write is given up on for another's count.
        retriesUsed: Math.min(...items.map((item) => queue.get(item.id)?.retryCount ?? item.retryCount)),
        baseDelayMs: this.#options.retryBaseDelayMs,
        maxDelayMs: this.#options.retryMaxDelayMs,
        jitter: this.#options.retryJitter,
        scheduler,
        shouldRetry: (error) => !(error instanceof SyncInputError) && (!(error instanceof SyncHttpError) || error.transient),
        retryNow$: online$.pipe(pairwise(), filter(([was, is]) => !was && is)),
        // No answer at all is nobody's fault: an outage of any length never dead-letters a write.
        counts: (error) => !isNoAnswer(error),
        onRetry: ({ error, attempt, delayMs, counted }) => {
          const message = describeError(error);
          for (const item of items) {
            this.#scheduleRetry(item.id, this.#options.now() + delayMs);
            const event: SyncEvent = { type: 'retried', item, attempt, delayMs, error: message };
            this.#reports.next(counted ? { event, command: { type: 'retried', id: item.id, error: message } } : { event });
          }
        },
      }),
    );
  }

  /**
   * The reports of a delivered item: its ack, and before it, when the server gave the record an
   * id of its own, the assignment. Both the ack and the move of the record's queued writes onto
   * the new id are one outbox command, so storage never holds one without the other.
   */
  #settle(item: SyncItem, settled: Settled): PushReport[] {
    const event: SyncEvent = { type: 'pushed', item, status: settled.status, body: settled.body };
    const assigned = settled.status === 409 ? undefined : this.#assignedId(item, settled.body);
    if (settled.reason !== undefined) event.reason = settled.reason;
    else if (assigned === null) event.reason = 'the answer names no record id, so later writes keep the temporary one';
    const tempId = recordIdOf(item.data);
    const serverId = assigned ?? undefined;
    // The record as the server now holds it (under the id it gave): its answer to our write, or the record that won.
    const data =
      tempId === undefined
        ? undefined
        : settled.status !== 409 && item.operation === 'delete'
          ? { id: tempId, deleted: true }
          : remoteRecord({ body: settled.body }, serverId === undefined ? item : { data: { id: serverId } });
    const ack: PushReport = {
      ...(data === undefined ? {} : { record: { entity: item.entity, data } }),
      event,
      command: { type: 'ack', id: item.id, version: settled.version, ...(serverId === undefined ? {} : { assignedId: serverId }) },
    };
    if (serverId === undefined || tempId === undefined) return [ack];
    return [{ event: { type: 'id-assigned', entity: item.entity, tempId, id: serverId } }, ack];
  }

  /**
   * The id the server gave a create of an entity with `serverIds` in its answer: `undefined`
   * when there is nothing to assign (not such a create, or the server kept the id), `null` when
   * the answer names no id at all.
   */
  #assignedId(item: SyncItem, body: unknown): string | number | null | undefined {
    if (item.operation !== 'create' || item.overwrite || this.#options.entities[item.entity as E]?.serverIds !== true) return undefined;
    const tempId = recordIdOf(item.data);
    const id = recordIdOf(remoteRecord({ body }));
    if (id === undefined) return tempId === undefined ? undefined : null;
    return tempId === undefined || String(tempId) === String(id) ? undefined : id;
  }

  #failed(item: SyncItem, error: string): PushReport {
    return {
      event: { type: 'dead-lettered', item: { ...item, lastError: error }, error },
      command: { type: 'dead-letter', id: item.id, error },
    };
  }

  #gaveUp(item: SyncItem, error: unknown): PushReport {
    if (error instanceof SyncInputError) return this.#failed(item, `${error.message} It stays in failed$.`);
    return this.#failed(
      item,
      `[rxsync] Gave up on ${describeItem(item)} after ${this.#options.maxRetries} retries. Last error: ${sentence(withoutPrefix(error))} It stays in failed$; call reprocessFailed() to try again.`,
    );
  }

  #scheduleRetry(id: string, at: number): void {
    this.#retryAt.set(id, at);
    this.#publishNextRetry();
  }

  #forgetRetry(id: string): void {
    if (this.#retryAt.delete(id)) this.#publishNextRetry();
  }

  #publishNextRetry(): void {
    let earliest: number | undefined;
    for (const at of this.#retryAt.values()) if (earliest === undefined || at < earliest) earliest = at;
    if (earliest !== this.#nextRetryAt.value) this.#nextRetryAt.next(earliest);
  }
}

/**
 * The request for an item: a client-wins decision goes out as an overwrite under its own key;
 * a create whose server assigns ids goes without the temporary id.
 */
function toRequest(item: SyncItem, { endpoint, serverIds }: EntityConfig): PushRequest {
  // A new idempotency key: the original one is bound to the 409 answer.
  if (item.overwrite) return { item: { ...item, id: `${item.id}:put` }, endpoint, overwrite: true };
  if (serverIds === true && item.operation === 'create') {
    const { id: _temporary, ...data } = item.data as Record<string, unknown>;
    return { item: { ...item, data }, endpoint };
  }
  return { item, endpoint };
}

function conflictEvent({ resolution, ...conflict }: ResolvedConflict): SyncEvent {
  return { type: 'conflict', conflict, resolution };
}

/** A request that got no answer: the network, a timeout, a request that could not be built. */
function isNoAnswer(error: unknown): boolean {
  return error instanceof SyncHttpError && error.status === 0 && !(error instanceof RetryableAnswer);
}

/** The transport's answer to `item`'s push, refused (the write becomes a dead letter) when it is none. */
function answerOf(answer: unknown, item: SyncItem): TransportResponse {
  if (isTransportResponse(answer)) return answer;
  throw new SyncInputError(
    `[rxsync] The transport's push() gave ${preview(answer)} for ${describeItem(item)}, not an answer ({ status, body }). Fix the transport, then call reprocessFailed().`,
  );
}

/** What an answer means: the transport's reading of it, else the default one. */
function readAnswer(item: SyncItem, response: TransportResponse): PushOutcome {
  return response.kind ? { kind: response.kind, reason: response.reason } : classifyResponse(response, item);
}

/** A 401 to a request sent under the auth gate's `generation`: it waits for renewed credentials. */
class Unauthorized extends SyncHttpError {
  constructor(
    readonly generation: number,
    readonly context: UnauthorizedContext,
  ) {
    super(`[rxsync] The server answered 401 to the ${context.item.operation} of ${context.item.entity}.`, 401, context.body);
  }
}

/** An answer worth sending the same request again for, whatever its status says. */
class RetryableAnswer extends SyncHttpError {
  override get transient(): boolean {
    return true;
  }
}

function throwIfRetry(item: SyncItem, response: TransportResponse): void {
  const { kind, reason } = readAnswer(item, response);
  if (kind === 'retry') {
    throw new RetryableAnswer(
      `[rxsync] The server answered ${reason ?? response.status} to ${describeItem(item)}, a transient failure.`,
      response.status,
      response.body,
      response.retryAfterMs,
    );
  }
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

function describeItems(items: readonly SyncItem[]): string {
  return items.length === 1 ? describeItem(items[0]) : `a batch of ${items.length} writes`;
}

function describeItem(item: SyncItem): string {
  const id = recordIdOf(item.data);
  return `the ${item.operation} of ${item.entity}${id === undefined ? '' : ` "${String(id)}"`}`;
}

/** Ends a message with a full stop, so the next sentence of a reason reads as one. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
