import { filter, map, type Observable, Subject } from 'rxjs';
import { describeError } from './errors.js';
import type { ResolvedConflict } from './operators/resolveConflict.js';
import { track } from './telemetry.js';
import type { SyncEvent, TelemetryClient } from './types.js';

/**
 * The engine's events: every part reports here, and what this engine reports goes to the app's
 * telemetry client as well. A destroyed engine says nothing more.
 */
export class EngineEvents {
  readonly events$: Observable<SyncEvent>;
  /** The conflicts among the events, each with how it was resolved. */
  readonly conflicts$: Observable<ResolvedConflict>;

  readonly #events = new Subject<SyncEvent>();
  readonly #client: TelemetryClient | undefined;
  readonly #productId: string;
  #muted = false;

  constructor(client: TelemetryClient | undefined, productId: string) {
    this.#client = client;
    this.#productId = productId;
    this.events$ = this.#events.asObservable();
    this.conflicts$ = this.events$.pipe(
      filter((event) => event.type === 'conflict'),
      map(({ conflict, resolution }) => ({ ...conflict, resolution })),
    );
  }

  /** Reports an event of this engine's. */
  emit(event: SyncEvent): void {
    if (this.#muted) return;
    this.#events.next(event);
    const error = this.#client && track(this.#client, this.#productId, event);
    if (error) this.#events.next({ type: 'callback-error', callback: 'telemetryClient', error: describeError(error) });
  }

  /** `callback`, made safe to call: should it throw, that is reported as a `callback-error` instead. */
  guard<T>(name: 'onStatusChange', callback: (value: T) => void): (value: T) => void {
    return (value) => {
      try {
        callback(value);
      } catch (error) {
        this.emit({ type: 'callback-error', callback: name, error: `[rxsync] ${name} threw: ${describeError(error)}` });
      }
    };
  }

  /** Passes on an event the leading tab reported (its own telemetry client heard it there). */
  relay(event: SyncEvent): void {
    this.#events.next(event);
  }

  /** From now on the engine's own events are dropped: it is being destroyed. */
  mute(): void {
    this.#muted = true;
  }

  /** Ends `events$`, the last step of destroying the engine. */
  end(): void {
    this.#events.complete();
  }
}
