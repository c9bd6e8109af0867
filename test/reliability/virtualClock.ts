import FakeTimers, { type InstalledClock } from '@sinonjs/fake-timers';

/** Thrown when something the scenario waits for does not happen within its virtual-time budget. */
export class Stuck extends Error {}

/** Taken before any clock is installed: a real macrotask, to let promise chains run to their end. */
const realSetImmediate = globalThis.setImmediate;

/**
 * Virtual time for a whole scenario: every timer (the engine's backoff, rxjs schedulers, the
 * simulated server's delays, msw) and `Date` run on one fake clock that only moves when the
 * scenario says so. Promise jobs still run for real, in their fixed order, so a scenario does
 * exactly the same thing on every run: a failure found by the soak replays as it happened.
 */
export class VirtualClock {
  private readonly clock: InstalledClock;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.clock = FakeTimers.install({
      now: start,
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'],
    });
  }

  get now(): number {
    return this.clock.now;
  }

  /** Timers still scheduled: none may be left once every engine is destroyed. */
  get pendingTimers(): number {
    return this.clock.countTimers();
  }

  /** Moves time on by `ms`, running every timer due on the way and the promise jobs they start. */
  async advance(ms: number): Promise<void> {
    await this.clock.tickAsync(ms);
  }

  /**
   * Runs virtual time, timer by timer, until `promise` settles. Throws {@link Stuck} when
   * `budgetMs` of virtual time pass first, or when nothing is left that could ever settle it.
   */
  async until<T>(promise: Promise<T>, what: string, budgetMs = 5000): Promise<T> {
    let settled = false;
    const watched = promise.finally(() => {
      settled = true;
    });
    watched.catch(() => undefined);
    const deadline = this.clock.now + budgetMs;
    while (!settled) {
      if (this.clock.countTimers() === 0) {
        await new Promise((resolve) => realSetImmediate(resolve));
        if (settled) break;
        if (this.clock.countTimers() === 0) throw new Stuck(`${what} never settles: nothing is left that could settle it`);
      }
      if (this.clock.now >= deadline) throw new Stuck(`${what} did not settle within ${budgetMs} virtual ms`);
      await this.clock.nextAsync();
    }
    return watched;
  }

  uninstall(): void {
    this.clock.uninstall();
  }
}
