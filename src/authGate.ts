import {
  asyncScheduler,
  BehaviorSubject,
  catchError,
  defer,
  EMPTY,
  filter,
  finalize,
  ignoreElements,
  map,
  merge,
  type Observable,
  type SchedulerLike,
  share,
  take,
  tap,
  throwError,
  timeout,
} from 'rxjs';
import { describeError, preview } from './errors.js';
import type { SyncEvent, UnauthorizedContext } from './types.js';

export interface AuthGateOptions {
  /** The app's `onUnauthorized`. */
  hook: (context: UnauthorizedContext) => unknown;
  /** How long the hook may take before it counts as failed. */
  timeoutMs: number;
  scheduler?: SchedulerLike;
  report: (event: SyncEvent) => void;
}

/** Open: requests may go. `generation` grows each time the credentials were renewed (or retried). */
interface GateState {
  open: boolean;
  generation: number;
}

/**
 * Delivery's answer to `401 Unauthorized`: the first 401 closes the gate and calls the app's
 * `onUnauthorized` once, however many requests are in flight; every request waits at the gate
 * and is sent again once it opens. A hook that fails (false, a throw, a rejection, no answer
 * within the timeout) or that says it renewed credentials the server then refuses too leaves the
 * gate closed and reports `auth-required`, until `retry()` (a flush, a reconnect) opens it again.
 */
export class AuthGate {
  readonly #state = new BehaviorSubject<GateState>({ open: true, generation: 0 });
  /** The renewal under way, shared by every request waiting for it. */
  #renewal$: Observable<never> | undefined;
  /** Closed by a failed renewal: only `retry()` opens it. */
  #failed = false;
  /** The current generation comes from a renewal that no request has proven yet. */
  #unproven = false;

  readonly #options: AuthGateOptions;

  constructor(options: AuthGateOptions) {
    this.#options = options;
  }

  /** Emits the generation requests are sent under, once the gate is open (at once when it is). */
  readonly open$: Observable<number> = this.#state.pipe(
    filter((state) => state.open),
    take(1),
    map((state) => state.generation),
  );

  /** A request sent under `generation` was answered with something other than 401: the credentials work. */
  answered(generation: number): void {
    if (generation === this.#state.value.generation) this.#unproven = false;
  }

  /**
   * A request sent under `generation` was answered 401. Emits once the gate has opened again
   * after that generation, so the request can be sent again with fresh headers.
   */
  unauthorized(generation: number, context: UnauthorizedContext): Observable<void> {
    const { open, generation: current } = this.#state.value;
    if (open && generation === current) {
      if (this.#unproven) {
        this.#fail(`onUnauthorized said the credentials were renewed, but the server answered 401 to the renewed ones too (${describeRequest(context)})`);
      } else {
        this.#renewal$ = this.#renew(context);
      }
    }
    const reopened$ = this.#state.pipe(
      filter((state) => state.open && state.generation > generation),
      take(1),
      map(() => undefined),
    );
    return this.#renewal$ ? merge(this.#renewal$, reopened$) : reopened$;
  }

  /** A flush or a reconnect: a gate a failed renewal closed opens again, for one more try. */
  retry(): void {
    if (!this.#failed) return;
    this.#failed = false;
    this.#unproven = false;
    this.#state.next({ open: true, generation: this.#state.value.generation + 1 });
  }

  #renew(context: UnauthorizedContext): Observable<never> {
    const { generation } = this.#state.value;
    const { hook, timeoutMs, scheduler } = this.#options;
    this.#state.next({ open: false, generation });
    let decided = false;
    // A value, a Promise, or a throw: all arrive as one settled Promise.
    return defer(async () => hook(context)).pipe(
      timeout({ first: timeoutMs, scheduler: scheduler ?? asyncScheduler, with: () => throwError(() => new Error(`it did not settle within ${timeoutMs} ms`)) }),
      take(1),
      tap({
        next: (value) => {
          decided = true;
          if (value === true || value === undefined) {
            this.#unproven = true;
            this.#state.next({ open: true, generation: generation + 1 });
          } else if (value === false) {
            this.#fail(`onUnauthorized returned false: the credentials could not be renewed (${describeRequest(context)})`);
          } else {
            this.#fail(`onUnauthorized returned ${preview(value)}; it must return true (or nothing) once the credentials are renewed, or false when they cannot be`);
          }
        },
        error: (error: unknown) => {
          decided = true;
          this.#fail(`onUnauthorized failed: ${describeError(error).replace(/\.$/, '')}`);
        },
      }),
      // The outcome is the gate's state: the waiting requests see it there.
      ignoreElements(),
      catchError(() => EMPTY),
      finalize(() => {
        this.#renewal$ = undefined;
        // Every request waiting for it went away (the queue was cleared, the engine destroyed): the next 401 asks again.
        if (!decided) this.#state.next({ open: true, generation });
      }),
      share(),
    );
  }

  #fail(reason: string): void {
    this.#failed = true;
    this.#unproven = false;
    const { generation } = this.#state.value;
    if (this.#state.value.open) this.#state.next({ open: false, generation });
    this.#options.report({
      type: 'auth-required',
      error: `[rxsync] The server answered 401 and ${reason}. Delivery is paused; the writes stay queued. Sign in again, then call flush().`,
    });
  }
}

function describeRequest({ item, status }: UnauthorizedContext): string {
  return `${status} to the ${item.operation} of ${item.entity}`;
}
