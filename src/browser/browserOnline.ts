import { concat, defer, distinctUntilChanged, fromEvent, map, merge, NEVER, type Observable, of } from 'rxjs';

/**
 * The device's connectivity: `navigator.onLine` on subscribe, then every `online` /
 * `offline` event of `window`. Outside a browser there is no such signal, so it says
 * `true` once and stays there.
 *
 * @example
 * ```ts
 * import { browserOnline$ } from 'rxsync';
 * browserOnline$().subscribe((online) => console.log(online ? 'online' : 'offline'));
 * ```
 */
export function browserOnline$(target: EventTarget | undefined = globalThis.window): Observable<boolean> {
  if (!target || typeof target.addEventListener !== 'function') return concat(of(true), NEVER);
  return defer(() =>
    merge(
      of(typeof navigator === 'undefined' ? true : navigator.onLine),
      fromEvent(target, 'online').pipe(map(() => true)),
      fromEvent(target, 'offline').pipe(map(() => false)),
    ),
  ).pipe(distinctUntilChanged());
}
