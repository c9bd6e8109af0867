import { Subject } from 'rxjs';
import { SyncInputError } from './errors.js';
import type { SyncWrite } from './types.js';

/**
 * The engine's input: a `Subject<SyncWrite>` that never dies. Only the engine can end it
 * (on destroy); an `error()` or `complete()` from outside is reported as a dropped input,
 * because one careless caller must not silence every other writer.
 */
export class WriteSubject extends Subject<SyncWrite> {
  readonly #report: (write: unknown) => void;

  constructor(report: (write: unknown) => void) {
    super();
    this.#report = report;
    this.subscribe((write) => report(write));
  }

  override error(error: unknown): void {
    this.#report(
      new SyncInputError(
        `[rxsync] writes$.error() was called (${String(error)}); writes$ stays open. Report failures in your own stream, not in the engine's input.`,
      ),
    );
  }

  override complete(): void {
    this.#report(
      new SyncInputError('[rxsync] writes$.complete() was called; writes$ stays open. Call engine.destroy() to stop the engine.'),
    );
  }

  /** Ends the subject for good; the engine's destroy() calls this. */
  end(): void {
    super.complete();
  }
}
