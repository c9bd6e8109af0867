import {
  concatMap,
  connect,
  filter,
  map,
  type MonoTypeOperatorFunction,
  type Observable,
  ReplaySubject,
  switchMap,
  take,
} from 'rxjs';

/** Options of {@link whenOnline}. */
export interface WhenOnlineConfig {
  /**
   * What happens to values that arrive while offline: `'all'` (default) holds every one and
   * releases them in order on reconnect; `'latest'` holds only the newest, which suits
   * triggers such as "flush now".
   */
  hold?: 'all' | 'latest';
}

/**
 * Lets values through only while `online$` last said `true`. Values that arrive while
 * offline (or before `online$` has said anything) are held and released as soon as it
 * turns `true`. `online$` is subscribed once per subscription.
 *
 * @example
 * ```ts
 * import { BehaviorSubject, Subject } from 'rxjs';
 * import { whenOnline } from 'rxsync/operators';
 *
 * const online$ = new BehaviorSubject(false);
 * const saves$ = new Subject<string>();
 * saves$.pipe(whenOnline(online$)).subscribe((s) => console.log('send', s));
 * saves$.next('a'); // held
 * online$.next(true); // logs "send a"
 * saves$.next('b'); // logs "send b"
 * ```
 */
export function whenOnline<T>(online$: Observable<boolean>, config: WhenOnlineConfig = {}): MonoTypeOperatorFunction<T> {
  const hold = config.hold === 'latest' ? switchMap : concatMap;
  return (source) =>
    online$.pipe(
      connect(
        (online) =>
          source.pipe(
            hold((value: T) =>
              online.pipe(
                filter((isOnline) => isOnline),
                take(1),
                map(() => value),
              ),
            ),
          ),
        { connector: () => new ReplaySubject<boolean>(1) },
      ),
    );
}
