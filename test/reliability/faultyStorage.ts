import { memoryStorage } from '../../src/index.js';
import type { SyncStorage } from '../../src/index.js';

/**
 * A storage "device": the data outlives engines (and simulated crashes). Each engine gets
 * its own {@link FaultyStorage} view of it; a crash freezes that view (later writes never
 * land and never settle, as if the process died), and a restart opens a fresh view.
 */
export interface StorageDevice {
  readonly base: SyncStorage;
  /** Log segment reads still to pass before the next one fails (undefined: none armed). */
  segmentReadFailsAfter?: number;
  /** Each log segment whose read failed, with what it held then (it must stay as it was) and the engine whose read failed. */
  readonly unreadable: { key: string; value: unknown; engine: number }[];
  /** Every log segment read that succeeded and every one written: which engine saw what (as JSON). */
  readonly segmentsSeen: { key: string; value: string; engine: number }[];
  /** Whether the next read of the outbox snapshot fails (once). */
  snapshotReadFails?: boolean;
  /** The engines whose read of the outbox snapshot failed, with the key. */
  readonly snapshotUnread: { key: string; engine: number }[];
  /** The engines that wrote or removed the outbox snapshot. */
  readonly snapshotWrittenBy: Set<number>;
}

export function storageDevice(base: SyncStorage = memoryStorage()): StorageDevice {
  return { base, unreadable: [], segmentsSeen: [], snapshotUnread: [], snapshotWrittenBy: new Set() };
}

/** An outbox log segment key (`{storageKey}:outbox:log:{n}`), as opposed to the snapshot or a checkpoint. */
const SEGMENT_KEY = /:outbox:log:\d+$/;
/** The outbox snapshot key, which the log's segments are read on top of. */
const SNAPSHOT_KEY = /:outbox:snapshot$/;

export class NotReadableError extends Error {
  override readonly name = 'NotReadableError';
  constructor() {
    super('NotReadableError: the data could not be read (injected)');
  }
}

export class QuotaExceededError extends Error {
  override readonly name = 'QuotaExceededError';
  constructor() {
    super('QuotaExceededError: the quota has been exceeded (injected)');
  }
}

/** Wraps a storage with injectable faults: failing `setItem`, a log segment or snapshot `getItem` failing once, and a crash after N more mutations. */
export class FaultyStorage implements SyncStorage {
  /** The next this-many `setItem` calls reject with a quota error. */
  failNextSetItems = 0;
  /** Mutations (setItem/removeItem) still allowed before the crash; undefined = no crash armed. */
  private crashAfter: number | undefined;
  private frozen = false;
  private inflight = 0;
  /** `setItemFailuresSeen`: failures whose rejection has been handed on (those still under way come after it). */
  readonly stats = { setItemFailures: 0, setItemFailuresSeen: 0, crashes: 0, droppedByCrash: 0 };
  /**
   * The engines started on this view, in order, that have not begun to load: a clean restart
   * hands the view to the next engine, and engines on one storage object load one after the
   * other, each starting with `keys()`. So each read is told apart by the load it belongs to.
   */
  private readonly toLoad: number[] = [];
  private engine = 0;

  /** Says that engine `gen` uses this view (its load is the next one to begin here). */
  startedHere(gen: number): void {
    this.toLoad.push(gen);
  }

  constructor(private readonly device: StorageDevice) {}

  get isFrozen(): boolean {
    return this.frozen;
  }

  get pending(): number {
    return this.inflight;
  }

  /** Lets `n` more mutations through, then freezes: nothing after reaches the device. */
  crashAfterMutations(n: number): void {
    this.crashAfter = n;
    if (n <= 0) this.freeze();
  }

  freeze(): void {
    if (!this.frozen) this.stats.crashes++;
    this.frozen = true;
  }

  private mutation<T>(run: () => Promise<T>): Promise<T> {
    if (!this.frozen && this.crashAfter !== undefined) {
      if (this.crashAfter <= 0) this.freeze();
      else this.crashAfter--;
    }
    if (this.frozen) {
      this.stats.droppedByCrash++;
      return new Promise<T>(() => undefined); // the process is gone: never lands, never settles
    }
    return this.track(run());
  }

  private async track<T>(promise: Promise<T>): Promise<T> {
    this.inflight++;
    try {
      return await promise;
    } finally {
      this.inflight--;
    }
  }

  getItem<T>(key: string): Promise<T | null> {
    const device = this.device;
    if (device.segmentReadFailsAfter !== undefined && SEGMENT_KEY.test(key) && device.segmentReadFailsAfter-- <= 0) {
      device.segmentReadFailsAfter = undefined;
      return this.track(
        device.base.getItem<T>(key).then((value) => {
          device.unreadable.push({ key, value, engine: this.engine });
          throw new NotReadableError();
        }),
      );
    }
    if (device.snapshotReadFails && SNAPSHOT_KEY.test(key)) {
      device.snapshotReadFails = false;
      device.snapshotUnread.push({ key, engine: this.engine });
      return this.track(Promise.reject(new NotReadableError()));
    }
    const read = device.base.getItem<T>(key);
    if (SEGMENT_KEY.test(key)) void read.then((value) => device.segmentsSeen.push({ key, value: JSON.stringify(value), engine: this.engine }));
    return this.track(read);
  }

  keys(): Promise<string[]> {
    this.engine = this.toLoad.shift() ?? this.engine;
    return this.track(this.device.base.keys());
  }

  setItem<T>(key: string, value: T): Promise<T> {
    if (!this.frozen && this.failNextSetItems > 0) {
      this.failNextSetItems--;
      this.stats.setItemFailures++;
      const failure = Promise.reject(new QuotaExceededError());
      failure.catch(() => this.stats.setItemFailuresSeen++);
      return failure;
    }
    if (SEGMENT_KEY.test(key)) this.device.segmentsSeen.push({ key, value: JSON.stringify(value), engine: this.engine });
    if (SNAPSHOT_KEY.test(key)) this.device.snapshotWrittenBy.add(this.engine);
    return this.mutation(() => this.device.base.setItem(key, value));
  }

  removeItem(key: string): Promise<void> {
    if (SNAPSHOT_KEY.test(key)) this.device.snapshotWrittenBy.add(this.engine);
    return this.mutation(() => this.device.base.removeItem(key));
  }

  /** Resolves once no storage operation of this view has been under way for a whole macrotask. */
  async idle(): Promise<void> {
    for (let quiet = 0; quiet < 2; ) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      quiet = this.inflight === 0 ? quiet + 1 : 0;
    }
  }
}
