/**
 * A memory-backed localforage custom driver that counts what the engine does to storage.
 *
 * It is a real driver (`localforage.defineDriver`), so the engine goes through the whole of
 * localforage (ready(), driver dispatch, callbacks) as it would on IndexedDB. Values are kept
 * as JSON text, like localforage's localStorage driver; "bytes written" is the JSON length of
 * each value handed to `setItem`.
 *
 * The data lives in a module-level map keyed by `name/storeName`, so a second instance created
 * with the same name sees what the first one wrote: storage that "persists" across engines.
 */
import localforage from 'localforage';
import type { SyncStorage } from '../src/index.js';

export const COUNTING_DRIVER = 'rxsyncBenchCountingDriver';

export interface StorageCounters {
  getItem: number;
  setItem: number;
  removeItem: number;
  keys: number;
  /** clear, length, key, iterate, dropInstance */
  other: number;
  bytesWritten: number;
  bytesRead: number;
}

const emptyCounters = (): StorageCounters => ({
  getItem: 0,
  setItem: 0,
  removeItem: 0,
  keys: 0,
  other: 0,
  bytesWritten: 0,
  bytesRead: 0,
});

/** Counters per database (`name/storeName`). */
const counters = new Map<string, StorageCounters>();
/** The "disk": per database, key → JSON text. */
const databases = new Map<string, Map<string, string>>();

interface DbInfo {
  id: string;
  data: Map<string, string>;
  counters: StorageCounters;
}

type Instance = { _dbInfo: DbInfo };
type Callback<T> = ((error: unknown, value?: T) => void) | undefined;

function settle<T>(promise: Promise<T>, callback: Callback<T>): Promise<T> {
  if (typeof callback === 'function') promise.then((v) => callback(null, v), (e: unknown) => callback(e));
  return promise;
}

function run<T>(callback: Callback<T>, body: () => T): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = Promise.resolve(body());
  } catch (error) {
    promise = Promise.reject(error);
  }
  return settle(promise, callback);
}

const driver = {
  _driver: COUNTING_DRIVER,
  _support: true,
  _initStorage(this: Instance, options: { name?: string; storeName?: string }): Promise<void> {
    const id = `${options.name ?? 'localforage'}/${options.storeName ?? 'keyvaluepairs'}`;
    let data = databases.get(id);
    if (!data) databases.set(id, (data = new Map()));
    let c = counters.get(id);
    if (!c) counters.set(id, (c = emptyCounters()));
    this._dbInfo = { id, data, counters: c };
    return Promise.resolve();
  },
  getItem(this: Instance, key: string, callback?: Callback<unknown>): Promise<unknown> {
    return run(callback, () => {
      const { data, counters: c } = this._dbInfo;
      c.getItem++;
      const text = data.get(String(key));
      if (text === undefined) return null;
      c.bytesRead += text.length;
      return JSON.parse(text) as unknown;
    });
  },
  setItem(this: Instance, key: string, value: unknown, callback?: Callback<unknown>): Promise<unknown> {
    return run(callback, () => {
      const { data, counters: c } = this._dbInfo;
      const stored = value === undefined ? null : value;
      const text = JSON.stringify(stored);
      c.setItem++;
      c.bytesWritten += text.length;
      data.set(String(key), text);
      return value;
    });
  },
  removeItem(this: Instance, key: string, callback?: Callback<void>): Promise<void> {
    return run(callback, () => {
      const { data, counters: c } = this._dbInfo;
      c.removeItem++;
      data.delete(String(key));
    });
  },
  clear(this: Instance, callback?: Callback<void>): Promise<void> {
    return run(callback, () => {
      this._dbInfo.counters.other++;
      this._dbInfo.data.clear();
    });
  },
  length(this: Instance, callback?: Callback<number>): Promise<number> {
    return run(callback, () => {
      this._dbInfo.counters.other++;
      return this._dbInfo.data.size;
    });
  },
  key(this: Instance, n: number, callback?: Callback<string | null>): Promise<string | null> {
    return run(callback, () => {
      this._dbInfo.counters.other++;
      return [...this._dbInfo.data.keys()][n] ?? null;
    });
  },
  keys(this: Instance, callback?: Callback<string[]>): Promise<string[]> {
    return run(callback, () => {
      this._dbInfo.counters.keys++;
      return [...this._dbInfo.data.keys()];
    });
  },
  iterate(this: Instance, iterator: (value: unknown, key: string, n: number) => unknown, callback?: Callback<unknown>): Promise<unknown> {
    return run(callback, () => {
      this._dbInfo.counters.other++;
      let n = 1;
      for (const [key, text] of this._dbInfo.data) {
        const result = iterator(JSON.parse(text) as unknown, key, n++);
        if (result !== undefined) return result;
      }
      return undefined;
    });
  },
  dropInstance(this: Instance, _options?: unknown, callback?: Callback<void>): Promise<void> {
    return run(callback, () => {
      this._dbInfo.counters.other++;
      databases.delete(this._dbInfo.id);
    });
  },
};

let defined: Promise<void> | undefined;

/** Registers the driver once (localforage drivers are global). */
export function defineCountingDriver(): Promise<void> {
  defined ??= localforage.defineDriver(driver as unknown as LocalForageDriver);
  return defined;
}

export interface CountingStore {
  /** A real localforage instance running on the counting driver. */
  storage: SyncStorage;
  readonly counters: StorageCounters;
  /** Zeroes the counters of this database (and of the log database the engine opens beside it). */
  reset(): void;
  /** Number of keys and total JSON bytes currently stored. */
  footprint(): { keys: number; bytes: number };
  /** Forgets the data and counters of this database. */
  drop(): void;
}

let unique = 0;

/**
 * A localforage instance on the counting driver. Pass the same `name` again to open the same
 * (persisted) data from a new instance; leave it out for a fresh database.
 */
export async function createCountingStore(name = `bench-${process.pid}-${++unique}`): Promise<CountingStore> {
  await defineCountingDriver();
  const instance = localforage.createInstance({ name, driver: COUNTING_DRIVER });
  await instance.ready();
  if (instance.driver() !== COUNTING_DRIVER) {
    throw new Error(`localforage picked driver ${String(instance.driver())}, not the counting driver`);
  }
  // The engine keeps its log in a database of its own named after this one (`{name}:…`): count it too.
  const ids = (map: Map<string, unknown>) => [...map.keys()].filter((id) => id === `${name}/keyvaluepairs` || id.startsWith(`${name}:`));
  return {
    storage: instance as unknown as SyncStorage,
    get counters() {
      const sum = emptyCounters();
      for (const id of ids(counters)) for (const [k, v] of Object.entries(counters.get(id)!)) sum[k as keyof StorageCounters] += v;
      return sum;
    },
    reset() {
      for (const id of ids(counters)) Object.assign(counters.get(id)!, emptyCounters());
    },
    footprint() {
      let keys = 0;
      let bytes = 0;
      for (const id of ids(databases)) {
        const data = databases.get(id)!;
        keys += data.size;
        for (const text of data.values()) bytes += text.length;
      }
      return { keys, bytes };
    },
    drop() {
      for (const id of ids(databases)) databases.delete(id);
      for (const id of ids(counters)) counters.delete(id);
    },
  };
}

export function totalOps(c: StorageCounters): number {
  return c.getItem + c.setItem + c.removeItem + c.keys + c.other;
}
