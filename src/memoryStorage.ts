import type { SyncStorage } from './types.js';

/**
 * Storage in a `Map`, for tests, servers and places without IndexedDB. Values are cloned
 * going in and coming out, as a real store would, so nobody shares state by accident.
 */
export function memoryStorage(): SyncStorage {
  const data = new Map<string, unknown>();
  return {
    async getItem<T>(key: string) {
      return data.has(key) ? (structuredClone(data.get(key)) as T) : null;
    },
    async setItem<T>(key: string, value: T) {
      data.set(key, structuredClone(value));
      return value;
    },
    async removeItem(key: string) {
      data.delete(key);
    },
    async keys() {
      return [...data.keys()];
    },
  };
}
