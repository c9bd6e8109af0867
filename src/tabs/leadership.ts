// src/tabs/: one outbox shared by every tab of an origin — leader election, the epoch fence, and the messages between tabs.

/** The part of the Web Locks API (`navigator.locks`) that leader election uses. */
export interface TabLocks {
  /** Asks for the lock `name`; `callback` holds it until the Promise it returns settles. */
  request(name: string, options: { steal?: boolean; signal?: AbortSignal }, callback: (lock: unknown) => Promise<void>): Promise<unknown>;
}

/** What {@link electLeader} hands back. */
export interface Leadership {
  /** Resolves once this tab holds the outbox's lock: it leads from then on. */
  readonly leading: Promise<void>;
  /** Resolves if another tab took the lock from this one while it led (a frozen or stalled tab). */
  readonly deposed: Promise<void>;
  /** Takes the lock from a leader that does not answer. A no-op for the leader itself. */
  takeOver(): void;
  /** Leaves: gives the lock up once `drained` has settled, or stops waiting for it. */
  release(drained: Promise<unknown>): void;
}

/**
 * The tab holding the Web Lock named after the outbox leads; the others queue for it, so when
 * the leader's tab closes or crashes (locks die with their tab) the next one in line leads.
 * A leader that is frozen keeps its lock, so a follower that gets no answer can take the lock
 * over (`steal`); the tab it was taken from learns it through its rejected request, and the
 * epoch fence keeps it from writing the log meanwhile.
 */
export function electLeader(locks: TabLocks, name: string): Leadership {
  let lead!: () => void;
  const leading = new Promise<void>((resolve) => (lead = resolve));
  let depose!: () => void;
  const deposed = new Promise<void>((resolve) => (depose = resolve));
  let letGo!: () => void;
  const held = new Promise<void>((resolve) => (letGo = resolve));
  let led = false;
  let released = false;
  let queued = new AbortController();

  const request = (options: { steal?: boolean; signal?: AbortSignal }): void => {
    let granted = false;
    locks
      .request(name, options, async () => {
        granted = true;
        led = true;
        lead();
        await held;
      })
      // A queued request we aborted rejects too; only a lock taken from us while held means deposed.
      .catch(() => {
        if (granted && !released) depose();
      });
  };
  request({ signal: queued.signal });

  return {
    leading,
    deposed,
    takeOver() {
      if (led || released) return;
      queued.abort();
      queued = new AbortController();
      request({ steal: true });
    },
    release(drained) {
      if (released) return;
      released = true;
      queued.abort();
      void drained.then(letGo, letGo);
    },
  };
}
