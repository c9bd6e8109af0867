import { defer, merge, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { requestLimiter } from '../src/requestLimiter.js';
import { marbles } from './marbles.js';

// The limiter behind the engine's `concurrency` option: how many pushes are on the wire at once.
describe('requestLimiter', () => {
  /** A request that notes when it starts (`name@frame`) in `log`. */
  const request =
    (log: string[], now: () => number) =>
    <T>(name: string, response$: Observable<T>): Observable<T> =>
      defer(() => {
        log.push(`${name}@${now()}`);
        return response$;
      });

  it(
    'runs at most `concurrency` requests at once; the others start in order as places free up',
    marbles((m) => {
      const started: string[] = [];
      const send = request(started, () => m.scheduler.now());
      const limit = requestLimiter(2);
      const all$ = merge(
        send('a', m.cold('--a|')).pipe(limit),
        send('b', m.cold('-----b|')).pipe(limit),
        send('c', m.cold('-c|')).pipe(limit),
        send('d', m.cold('d|')).pipe(limit),
      );
      const seen: string[] = [];
      all$.subscribe({ next: (value) => seen.push(value), complete: () => seen.push('done') });
      m.flush();
      // a and b at once; c when a is done (frame 3), d when c is done (frame 5).
      expect(started).toEqual(['a@0', 'b@0', 'c@3', 'd@5']);
      expect(seen).toEqual(['a', 'c', 'b', 'd', 'done']);
    }),
  );

  it(
    'a request that fails frees its place too',
    marbles((m) => {
      const started: string[] = [];
      const send = request(started, () => m.scheduler.now());
      const limit = requestLimiter(1);
      const seen: string[] = [];
      send('a', m.cold('--#')).pipe(limit).subscribe({ error: () => seen.push('a failed') });
      send('b', m.cold('-b|')).pipe(limit).subscribe((value) => seen.push(value));
      m.flush();
      expect(seen).toEqual(['a failed', 'b']);
      expect(started).toEqual(['a@0', 'b@2']);
    }),
  );

  it(
    'a waiting request that is unsubscribed leaves the line and never starts; the others keep their turn',
    marbles((m) => {
      const started: string[] = [];
      const send = request(started, () => m.scheduler.now());
      const limit = requestLimiter(1);
      send('a', m.cold('---a|')).pipe(limit).subscribe();
      const waitingB = send('b', m.cold('b|')).pipe(limit).subscribe();
      send('c', m.cold('c|')).pipe(limit).subscribe();
      send('d', m.cold('d|')).pipe(limit).subscribe();
      m.scheduler.schedule(() => waitingB.unsubscribe(), 1);
      m.flush();
      expect(started).toEqual(['a@0', 'c@4', 'd@5']);
    }),
  );

  it(
    'unsubscribing a running request frees its place at once',
    marbles((m) => {
      const started: string[] = [];
      const send = request(started, () => m.scheduler.now());
      const limit = requestLimiter(1);
      const running = send('a', m.cold('-----a|')).pipe(limit).subscribe();
      send('b', m.cold('b|')).pipe(limit).subscribe();
      m.scheduler.schedule(() => running.unsubscribe(), 2);
      m.flush();
      expect(started).toEqual(['a@0', 'b@2']);
    }),
  );
});
