import { defer, Observable, type ObservableInput, type OperatorFunction } from 'rxjs';

/** One storage write and the values it covered. */
export interface PersistedBatch<T> {
  /** The values this write covered, in arrival order. */
  values: readonly T[];
  /** Set when the write failed; then nothing in `values` is durable. */
  error?: unknown;
}

/**
 * Write-behind persistence: hands each value to `write` and emits it only once the write
 * has finished. While one write is under way, the values that arrive are collected and
 * written together by the next one, so a burst costs a few storage operations, not one
 * per value, and order is kept.
 *
 * A failed write emits its batch with `error`, together with every value collected behind
 * it (they may build on what failed), and the stream goes on with the next value. When the
 * source completes, what is collected is still written before completion.
 *
 * @example
 * ```ts
 * import localforage from 'localforage';
 * import { Subject } from 'rxjs';
 * import { persist } from 'rxsync/operators';
 *
 * const notes$ = new Subject<string>();
 * let saved: string[] = [];
 * notes$
 *   .pipe(persist((batch) => localforage.setItem('notes', (saved = [...saved, ...batch]))))
 *   .subscribe(({ values, error }) => console.log(error ? 'not saved' : 'saved', values));
 * notes$.next('a'); notes$.next('b'); notes$.next('c');
 * // saved ['a'], then saved ['b', 'c']: b and c arrived while 'a' was being written
 * ```
 */
export function persist<T>(
  write: (batch: readonly T[]) => ObservableInput<unknown>,
): OperatorFunction<T, PersistedBatch<T>> {
  return (source) =>
    new Observable<PersistedBatch<T>>((subscriber) => {
      let collected: T[] = [];
      let writing = false;
      let sourceDone = false;

      const writeNext = (): void => {
        if (collected.length === 0) {
          if (sourceDone) subscriber.complete();
          return;
        }
        const values = collected;
        collected = [];
        writing = true;
        const settle = (batch: PersistedBatch<T>): void => {
          writing = false;
          subscriber.next(batch);
          writeNext();
        };
        subscriber.add(
          defer(() => write(values)).subscribe({
            error: (error: unknown) => {
              const behind = collected;
              collected = [];
              settle({ values: [...values, ...behind], error });
            },
            complete: () => settle({ values }),
          }),
        );
      };

      return source.subscribe({
        next: (value) => {
          collected.push(value);
          if (!writing) writeNext();
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          sourceDone = true;
          if (!writing) writeNext();
        },
      });
    });
}
