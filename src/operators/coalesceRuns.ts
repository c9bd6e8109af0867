import { from, Observable, type ObservableInput, type OperatorFunction } from 'rxjs';

/**
 * Runs `work` for a value, one run at a time; every value that arrives while a run is under
 * way collapses into a single run after it (with the latest value). Nothing is dropped that
 * came after the last run started, and nothing runs twice for one burst: the shape a "pull
 * now" trigger needs, where pokes, reconnects and timers may pile up during a slow pull.
 *
 * Unlike `exhaustMap` it keeps the trailing value; unlike `concatMap` it keeps only one.
 *
 * @example
 * ```ts
 * import { map, Subject, timer } from 'rxjs';
 * import { coalesceRuns } from 'rxsync/operators';
 *
 * const poke$ = new Subject<number>();
 * poke$.pipe(coalesceRuns((n) => timer(100).pipe(map(() => n)))).subscribe((n) => console.log('pulled for', n));
 * poke$.next(1); // runs at once
 * poke$.next(2); poke$.next(3); // during the run: one more run, for 3, once it ends
 * ```
 */
export function coalesceRuns<T, R>(work: (value: T) => ObservableInput<R>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      let running = false;
      let waiting: { value: T } | undefined;
      let sourceDone = false;

      const run = (value: T): void => {
        running = true;
        subscriber.add(
          from(work(value)).subscribe({
            next: (result) => subscriber.next(result),
            error: (error: unknown) => subscriber.error(error),
            complete: () => {
              running = false;
              const next = waiting;
              waiting = undefined;
              if (next) run(next.value);
              else if (sourceDone) subscriber.complete();
            },
          }),
        );
      };

      return source.subscribe({
        next: (value) => {
          if (running) waiting = { value };
          else run(value);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (!running) subscriber.complete();
        },
      });
    });
}
