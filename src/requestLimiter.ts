import { finalize, Observable } from 'rxjs';

/**
 * At most `concurrency` of the requests it wraps run at once; the rest wait their turn in
 * order. A request that waits costs nothing until it starts, and unsubscribing takes it
 * out of line (or aborts it). Waiting for a retry is not a request: it holds no place.
 */
export function requestLimiter(concurrency: number): <T>(request$: Observable<T>) => Observable<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  const next = (): void => {
    running--;
    waiting.shift()?.();
  };
  return <T>(request$: Observable<T>) =>
    new Observable<T>((subscriber) => {
      let started = false;
      const start = (): void => {
        started = true;
        running++;
        subscriber.add(request$.pipe(finalize(next)).subscribe(subscriber));
      };
      if (running < concurrency) start();
      else waiting.push(start);
      return () => {
        if (!started) waiting.splice(waiting.indexOf(start), 1);
      };
    });
}
