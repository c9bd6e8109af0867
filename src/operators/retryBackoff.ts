import {
  defer,
  type MonoTypeOperatorFunction,
  type Observable,
  type ObservableInput,
  race,
  retry,
  type SchedulerLike,
  throwError,
  timer,
} from 'rxjs';
import { SyncHttpError } from '../errors.js';

/** Options of {@link retryBackoff} (and, in part, {@link backoffDelay}). */
export interface RetryBackoffConfig {
  /** Retries after the first attempt (only those that `counts` counts). */
  maxRetries: number;
  /** Retries already spent, e.g. before a restart: attempts continue from here. Default 0. */
  retriesUsed?: number;
  /**
   * Which retries use up `maxRetries`. Default: all. Errors it does not count (e.g. no answer
   * at all, which is nobody's fault) are retried for as long as the subscription lasts, at the
   * capped backoff.
   */
  counts?: (error: unknown) => boolean;
  /** Each emission cuts every pending wait short: e.g. the network came back. */
  retryNow$?: Observable<unknown>;
  /** Default 1000. */
  baseDelayMs?: number;
  /** Default 30000. */
  maxDelayMs?: number;
  /** Up to this fraction of the delay is added at random. Default 0.2. */
  jitter?: number;
  /** Default `Math.random`. */
  random?: () => number;
  /** Times the delays; pass a `TestScheduler` for virtual time. */
  scheduler?: SchedulerLike;
  /** Which errors are worth another try. Default: transient `SyncHttpError`s and anything that is not an HTTP error (network failures). */
  shouldRetry?: (error: unknown) => boolean;
  /** Called just before each wait; `counted` says whether this retry used up one of `maxRetries`. */
  onRetry?: (retry: { error: unknown; attempt: number; delayMs: number; counted: boolean }) => void;
}

/**
 * The wait before retry number `attempt` (1-based): `min(base * 2^(attempt-1), max)` plus
 * up to `jitter` of it at random, or exactly what the server asked for in `Retry-After`.
 */
export function backoffDelay(
  attempt: number,
  config: Pick<RetryBackoffConfig, 'baseDelayMs' | 'maxDelayMs' | 'jitter' | 'random'>,
  retryAfterMs?: number,
): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return retryAfterMs;
  const { baseDelayMs = 1000, maxDelayMs = 30_000, jitter = 0.2, random = Math.random } = config;
  const exponential = Math.min(baseDelayMs * 2 ** (attempt - 1), maxDelayMs);
  return Math.round(exponential + exponential * jitter * random());
}

const defaultShouldRetry = (error: unknown): boolean => !(error instanceof SyncHttpError) || error.transient;

/**
 * Resubscribes to the source after a failure, waiting longer each time: built on
 * `retry({ count, delay })`, so the waits are ordinary timers on `scheduler` and show in
 * marble tests. Errors that `shouldRetry` rejects, and the error after the last retry,
 * go through unchanged.
 *
 * @example
 * ```ts
 * import { ajax } from 'rxjs/ajax';
 * import { retryBackoff } from 'rxsync/operators';
 *
 * ajax.getJSON('/api/todos')
 *   .pipe(retryBackoff({ maxRetries: 5, baseDelayMs: 500, onRetry: ({ attempt, delayMs }) => console.log(attempt, delayMs) }))
 *   .subscribe(console.log);
 * ```
 */
export function retryBackoff<T>(config: RetryBackoffConfig): MonoTypeOperatorFunction<T> {
  const shouldRetry = config.shouldRetry ?? defaultShouldRetry;
  const counts = config.counts ?? (() => true);
  return (source) =>
    defer(() => {
      let attempt = config.retriesUsed ?? 0;
      let counted = attempt;
      return source.pipe(
        retry<T>({
          delay: (error: unknown): ObservableInput<unknown> => {
            const isCounted = counts(error);
            if (!shouldRetry(error) || (isCounted && counted >= config.maxRetries)) return throwError(() => error);
            if (isCounted) counted++;
            attempt++;
            const retryAfterMs = error instanceof SyncHttpError ? error.retryAfterMs : undefined;
            const delayMs = backoffDelay(attempt, config, retryAfterMs);
            config.onRetry?.({ error, attempt, delayMs, counted: isCounted });
            const wait = timer(delayMs, config.scheduler);
            return config.retryNow$ ? race(wait, config.retryNow$) : wait;
          },
        }),
      );
    });
}
