import localforage from 'localforage';
import { memoryStorage } from '../memoryStorage.js';
import type { SyncStorage } from '../types.js';

/** A localforage instance named `rxsync` where IndexedDB or localStorage exist; memory elsewhere. */
export function defaultStorage(): SyncStorage {
  const hasDriver = typeof indexedDB !== 'undefined' || typeof localStorage !== 'undefined';
  return hasDriver ? localforage.createInstance({ name: 'rxsync' }) : memoryStorage();
}
