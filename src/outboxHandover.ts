import { BehaviorSubject, type Observable } from 'rxjs';
import { holdWebLock } from './browser/webLock.js';
import type { SyncEvent, SyncStorage } from './types.js';

/** How long a destroyed engine may take to store its last writes before the next one stops waiting for it. */
const DRAIN_GRACE_MS = 5_000;

const tails = new Map<string, Promise<void>>();
/** Engines per outbox that have not been destroyed yet. */
const live = new Map<string, number>();
const objectIds = new WeakMap<object, string>();
let objects = 0;

/**
 * The name of one stored outbox: the database behind the storage plus the `storageKey`.
 * Two localforage instances created with the same `name` and `storeName` are one database,
 * so they get one name; storage that cannot say which database it is (memoryStorage, a
 * custom adapter without `config()`) is named by the object itself.
 */
export function outboxName(storage: SyncStorage, storageKey: string): string {
  const config = (storage as { config?: () => { name?: unknown; storeName?: unknown } }).config;
  const settings = typeof config === 'function' ? config.call(storage) : undefined;
  if (typeof settings?.name === 'string') {
    return `rxsync:${settings.name}/${String(settings.storeName ?? 'keyvaluepairs')}:${storageKey}`;
  }
  let id = objectIds.get(storage);
  if (id === undefined) objectIds.set(storage, (id = `storage-${++objects}`));
  return `rxsync:${id}:${storageKey}`;
}

/** What {@link takeOutbox} hands back. */
export interface OutboxTurn {
  /** Resolves once every engine before this one on the same outbox has stored its last writes. */
  readonly ready: Promise<void>;
  /** True when another engine, not yet destroyed, held the outbox at the time of asking. */
  readonly waited: boolean;
  /** Lets the next engine in, once `drained` has settled (or a grace period after it has not). */
  release(drained: Promise<unknown>): void;
}

/**
 * Engines on one outbox in one JavaScript realm take turns: the next one loads only after the
 * previous one was destroyed and stored what it had accepted, else it would not see those
 * writes and would write its own log over them. A destroyed engine whose storage never
 * answers does not block its successor for ever: it gets a grace period.
 */
export function takeOutbox(name: string): OutboxTurn {
  const previous = tails.get(name);
  const waited = (live.get(name) ?? 0) > 0;
  live.set(name, (live.get(name) ?? 0) + 1);
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = (previous ?? Promise.resolve()).then(() => mine);
  tails.set(name, tail);
  void tail.then(() => {
    if (tails.get(name) === tail) tails.delete(name);
  });
  return {
    ready: previous ?? Promise.resolve(),
    waited,
    release(drained) {
      const left = (live.get(name) ?? 1) - 1;
      if (left > 0) live.set(name, left);
      else live.delete(name);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_GRACE_MS)));
      void Promise.race([drained.catch(() => undefined), grace]).then(() => {
        clearTimeout(timer);
        release();
      });
    },
  };
}

/** What {@link claimOutbox} hands back. */
export interface OutboxClaim {
  /** Resolves once this engine may load the outbox: no engine before it here, no other tab holding it. */
  readonly ready: Promise<void>;
  /** True while another engine or tab holds the outbox and this one waits for it. */
  readonly waiting$: Observable<boolean>;
  /** Lets the next engine in once `drained` has settled. */
  release(drained: Promise<unknown>): void;
}

/**
 * Claims the outbox `storageKey` in `storage` for one engine: after every earlier engine of
 * this realm on the same database (see {@link takeOutbox}), and, in browsers, while holding the
 * Web Lock of the same name, so other tabs wait too. `drained` is when this engine is done
 * with it, which also frees the lock. Waiting is reported (a `storage-error` event) once.
 */
export function claimOutbox(storage: SyncStorage, storageKey: string, drained: () => Promise<unknown>, report: (event: SyncEvent) => void): OutboxClaim {
  const name = outboxName(storage, storageKey);
  const waiting = new BehaviorSubject(false);
  const wait = (): void => {
    if (waiting.value) return;
    waiting.next(true);
    report({
      type: 'storage-error',
      key: storageKey,
      error: `[rxsync] Another tab or engine is using the outbox "${storageKey}"; this engine waits until it is closed before loading, and its writes wait with it. Give each engine its own storageKey to run them side by side.`,
    });
  };
  const turn = takeOutbox(name);
  if (turn.waited) wait();
  const ready = turn.ready.then(() => holdWebLock(name, drained(), wait));
  void ready.then(() => waiting.next(false));
  return { ready, waiting$: waiting.asObservable(), release: (done) => turn.release(done) };
}
