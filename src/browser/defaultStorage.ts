// src/browser/: environment code (online events, Web Locks, IndexedDB storage); the core runs without it.
import localforage from 'localforage';
import { memoryStorage } from '../memoryStorage.js';
import type { SyncEvent, SyncStorage } from '../types.js';

/**
 * The storage an engine gets without a `storage` option: a localforage instance named `rxsync`
 * where IndexedDB or localStorage exist (browsers), otherwise {@link memoryStorage}. So in Node
 * the outbox lives in memory and is lost when the process ends; pass a durable `storage` there
 * (see the README, "Durable storage in Node").
 */
export function defaultStorage(): SyncStorage {
  return defaultStorageIsDurable() ? localforage.createInstance({ name: 'rxsync' }) : memoryStorage();
}

/** Whether {@link defaultStorage} keeps the outbox across restarts here (IndexedDB or localStorage exist). */
export function defaultStorageIsDurable(): boolean {
  return typeof indexedDB !== 'undefined' || typeof localStorage !== 'undefined';
}

/** What the engine says on `events$` when it falls back to memory. */
export function memoryStorageNotice(): SyncEvent {
  return {
    type: 'notice',
    message:
      '[rxsync] No storage option and no IndexedDB or localStorage here: the outbox lives in memory and is lost when the process ends. Pass a durable storage (see the README, "Durable storage in Node").',
  };
}
