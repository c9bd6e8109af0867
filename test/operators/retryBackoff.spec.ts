import { describe, expect, it } from 'vitest';
import { defer, throwError } from 'rxjs';
import { backoffDelay, retryBackoff } from '../../src/operators/index.js';
import { SyncHttpError } from '../../src/index.js';
import { testScheduler } from '../marbles.js';

const transient = new SyncHttpError('[rxsync] 503', 503);
const permanent = new SyncHttpError('[rxsync] 400', 400);

describe('retryBackoff', () => {
  it('waits base * 2^(attempt-1) before each retry (jitter off)', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('#', undefined, transient);
      const retried = source.pipe(retryBackoff({ maxRetries: 3, baseDelayMs: 10, jitter: 0 }));
      // attempts at 0, 10, 10+20=30, 30+40=70; then the error goes through
      expectObservable(retried).toBe('70ms #', undefined, transient);
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '10ms (^!)', '30ms (^!)', '70ms (^!)']);
    });
  });

  it('caps each wait at maxDelayMs', () => {
    testScheduler().run(({ cold, expectSubscriptions }) => {
      const source = cold('#', undefined, transient);
      source.pipe(retryBackoff({ maxRetries: 3, baseDelayMs: 10, maxDelayMs: 15, jitter: 0 })).subscribe({ error: () => {} });
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '10ms (^!)', '25ms (^!)', '40ms (^!)']);
    });
  });

  it('honours Retry-After exactly', () => {
    testScheduler().run(({ cold, expectSubscriptions }) => {
      const busy = new SyncHttpError('[rxsync] 429', 429, undefined, 500);
      const source = cold('#', undefined, busy);
      source.pipe(retryBackoff({ maxRetries: 1, baseDelayMs: 10, jitter: 0 })).subscribe({ error: () => {} });
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '500ms (^!)']);
    });
  });

  it('succeeds after a transient failure: the value arrives after the wait', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      let attempt = 0;
      const source = defer(() => (attempt++ === 0 ? throwError(() => transient) : cold('a|')));
      expectObservable(source.pipe(retryBackoff({ maxRetries: 2, baseDelayMs: 5, jitter: 0 }))).toBe('5ms a|');
    });
  });

  it('lets permanent errors through at once', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('#', undefined, permanent).pipe(retryBackoff({ maxRetries: 5 }))).toBe('#', undefined, permanent);
    });
  });

  it('continues counting from retriesUsed (after a restart) and reports each retry', () => {
    const seen: [number, number][] = [];
    testScheduler().run(({ cold, expectSubscriptions }) => {
      const source = cold('#', undefined, transient);
      source
        .pipe(retryBackoff({ maxRetries: 3, retriesUsed: 2, baseDelayMs: 10, jitter: 0, onRetry: (r) => seen.push([r.attempt, r.delayMs]) }))
        .subscribe({ error: () => {} });
      expectSubscriptions(source.subscriptions).toBe(['(^!)', '40ms (^!)']);
    });
    expect(seen).toEqual([[3, 40]]);
  });

  it('adds up to `jitter` of the delay at random', () => {
    expect(backoffDelay(1, { baseDelayMs: 100, jitter: 0.5, random: () => 0 })).toBe(100);
    expect(backoffDelay(1, { baseDelayMs: 100, jitter: 0.5, random: () => 0.999 })).toBe(150);
    expect(backoffDelay(3, { baseDelayMs: 100, jitter: 0, random: () => 1 })).toBe(400);
  });
});
