import { defer, dematerialize, map, merge, NEVER, type Observable, type ObservableNotification, Subject, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';

/** One recorded notification and the virtual instant (ms) it came at, as `TestScheduler.parseMarbles` gives them. */
export interface Recorded<T> {
  frame: number;
  notification: ObservableNotification<T>;
}

/** A macrotask: every Promise continuation queued before it has run by then. */
const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Virtual time for code that awaits Promises between its streams, as the engine does with its
 * storage. `TestScheduler.run` (and so rxjs-marbles' `marbles()`) runs all of virtual time in
 * one synchronous flush, before any Promise continuation could run. Here a `TestScheduler`
 * outside run mode is moved from one due action to the next, and at each instant the pending
 * Promises are let to settle (a macrotask, repeated while that schedules more work for the
 * same instant), so a storage write lands at the virtual instant it was made.
 *
 * Marbles read as in run mode: one character is 1 ms, `100ms` is a progression, `(ab)` a group.
 */
export class VirtualTime {
  /** Pass it as the engine's `scheduler`: its `now()` is the virtual time. */
  readonly scheduler = new TestScheduler((actual, expected) => expect(actual).toStrictEqual(expected));

  /** The virtual time, in ms. */
  now(): number {
    return this.scheduler.now();
  }

  /** A cold observable of `marbles`, timed on the virtual clock from each subscription. */
  cold<T = string>(marbles: string, values?: Record<string, T>, error?: unknown): Observable<T> {
    const messages = parse<T>(marbles, values, error);
    return defer(() =>
      // NEVER: a marble without `|` never completes.
      merge(...messages.map(({ frame, notification }) => timer(frame, this.scheduler).pipe(map(() => notification))), NEVER),
    ).pipe(dematerialize());
  }

  /** A hot observable of `marbles`, running from now whether anyone listens or not. */
  hot<T = string>(marbles: string, values?: Record<string, T>, error?: unknown): Observable<T> {
    const subject = new Subject<T>();
    this.cold(marbles, values, error).subscribe(subject);
    return subject.asObservable();
  }

  /** Subscribes now and records every notification with its virtual instant. */
  record<T>(source$: Observable<T>): Recorded<T>[] {
    const recorded: Recorded<T>[] = [];
    // The shape parseMarbles gives, undefined fields included, so the two compare strictly equal.
    const at = (kind: 'N' | 'E' | 'C', value?: T, error?: unknown) =>
      recorded.push({ frame: this.now(), notification: { kind, value, error } as ObservableNotification<T> });
    source$.subscribe({
      next: (value) => at('N', value),
      error: (error: unknown) => at('E', undefined, error),
      complete: () => at('C'),
    });
    return recorded;
  }

  /** Asserts that `recorded` is `marbles`, frame for frame (its first character is instant 0). */
  expect<T>(recorded: Recorded<T>[]): { toBe(marbles: string, values?: Record<string, T>, error?: unknown): void } {
    return { toBe: (marbles, values, error) => expect(recorded).toStrictEqual(parse(marbles, values, error)) };
  }

  /** Runs everything due in the next `ms` of virtual time, settling Promises at each instant. */
  async advance(ms: number): Promise<void> {
    const end = this.now() + ms;
    for (;;) {
      await this.settle();
      const next = this.scheduler.actions[0]?.delay;
      if (next === undefined || next > end) break;
      this.scheduler.frame = next;
    }
    this.scheduler.frame = end;
  }

  /** Runs what is due now, and what the Promises it started make due now, until nothing is left. */
  private async settle(): Promise<void> {
    const now = this.now();
    this.scheduler.maxFrames = now;
    do {
      this.scheduler.flush();
      await macrotask();
    } while ((this.scheduler.actions[0]?.delay ?? Infinity) <= now);
  }
}

/** Marbles as run mode reads them (1 character = 1 ms), whatever mode the scheduler is in. */
function parse<T>(marbles: string, values?: Record<string, T>, error?: unknown): Recorded<T>[] {
  const factor = TestScheduler.frameTimeFactor;
  TestScheduler.frameTimeFactor = 1;
  try {
    return TestScheduler.parseMarbles(marbles, values, error, undefined, true) as Recorded<T>[];
  } finally {
    TestScheduler.frameTimeFactor = factor;
  }
}
