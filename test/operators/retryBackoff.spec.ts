import { describe, expect, it } from 'vitest';
import { defer, throwError } from 'rxjs';
import { backoffDelay, retryBackoff } from '../../src/operators/index.js';
import { SyncHttpError } from '../../src/index.js';
import { marbles } from '../marbles.js';

const transient = new SyncHttpError('[rxsync] 503', 503);
const permanent = new SyncHttpError('[rxsync] 400', 400);

describe('retryBackoff', () => {
  it(
    'waits base * 2^(attempt-1) before each retry (jitter off)',
    marbles((m) => {
      const source = m.cold('#', undefined, transient);
      const retried = source.pipe(retryBackoff({ maxRetries: 3, baseDelayMs: 10, jitter: 0 }));
      // attempts at 0, 10, 10+20=30, 30+40=70; then the error goes through
      m.expect(retried).toBeObservable('70ms #', undefined, transient);
      m.expect(source).toHaveSubscriptions(['(^!)', '10ms (^!)', '30ms (^!)', '70ms (^!)']);
    }),
  );

  it(
    'caps each wait at maxDelayMs',
    marbles((m) => {
      const source = m.cold('#', undefined, transient);
      source.pipe(retryBackoff({ maxRetries: 3, baseDelayMs: 10, maxDelayMs: 15, jitter: 0 })).subscribe({ error: () => {} });
      m.expect(source).toHaveSubscriptions(['(^!)', '10ms (^!)', '25ms (^!)', '40ms (^!)']);
    }),
  );

  it(
    'honours Retry-After exactly',
    marbles((m) => {
      const busy = new SyncHttpError('[rxsync] 429', 429, undefined, 500);
      const source = m.cold('#', undefined, busy);
      source.pipe(retryBackoff({ maxRetries: 1, baseDelayMs: 10, jitter: 0 })).subscribe({ error: () => {} });
      m.expect(source).toHaveSubscriptions(['(^!)', '500ms (^!)']);
    }),
  );

  it(
    'succeeds after a transient failure: the value arrives after the wait',
    marbles((m) => {
      let attempt = 0;
      const source = defer(() => (attempt++ === 0 ? throwError(() => transient) : m.cold('a|')));
      m.expect(source.pipe(retryBackoff({ maxRetries: 2, baseDelayMs: 5, jitter: 0 }))).toBeObservable('5ms a|');
    }),
  );

  it(
    'retries that `counts` leaves out use up none of maxRetries: a counted failure after them still gets its retry',
    marbles((m) => {
      const lost = new Error('no answer');
      const failures = [lost, lost, transient];
      let attempt = 0;
      const source = defer(() => (attempt < failures.length ? throwError(() => failures[attempt++]) : m.cold('a|')));
      const retried = source.pipe(retryBackoff({ maxRetries: 1, counts: (error) => error !== lost, baseDelayMs: 10, jitter: 0 }));
      // waits of 10, 20 and 40: every retry moves the backoff on, counted or not
      m.expect(retried).toBeObservable('70ms a|');
    }),
  );

  it(
    'lets permanent errors through at once',
    marbles((m) => {
      m.expect(m.cold('#', undefined, permanent).pipe(retryBackoff({ maxRetries: 5 }))).toBeObservable('#', undefined, permanent);
    }),
  );

  it('continues counting from retriesUsed (after a restart) and reports each retry', () => {
    const seen: [number, number][] = [];
    marbles((m) => {
      const source = m.cold('#', undefined, transient);
      source
        .pipe(retryBackoff({ maxRetries: 3, retriesUsed: 2, baseDelayMs: 10, jitter: 0, onRetry: (r) => seen.push([r.attempt, r.delayMs]) }))
        .subscribe({ error: () => {} });
      m.expect(source).toHaveSubscriptions(['(^!)', '40ms (^!)']);
    })();
    expect(seen).toEqual([[3, 40]]);
  });

  it('adds up to `jitter` of the delay at random', () => {
    expect(backoffDelay(1, { baseDelayMs: 100, jitter: 0.5, random: () => 0 })).toBe(100);
    expect(backoffDelay(1, { baseDelayMs: 100, jitter: 0.5, random: () => 0.999 })).toBe(150);
    expect(backoffDelay(3, { baseDelayMs: 100, jitter: 0, random: () => 1 })).toBe(400);
  });
});
