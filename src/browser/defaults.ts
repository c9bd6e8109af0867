// src/browser/: environment code (online events, Web Locks, IndexedDB storage); the core runs without it.
import type { Observable } from 'rxjs';
import type { SyncEngineOptions, SyncEvent, SyncStorage } from '../types.js';
import { browserOnline$ } from './browserOnline.js';
import { defaultStorage, defaultStorageIsDurable, memoryStorageNotice } from './defaultStorage.js';

/** What the environment gives an engine in place of the options it was not given. */
export interface EnvironmentDefaults {
  storage: SyncStorage;
  online$: Observable<boolean>;
  /** Said on `events$` once loaded, when the outbox lives in memory because nothing durable was at hand. */
  notice?: SyncEvent;
}

/** The options' `storage` and `online$`, or the environment's where they are left out. */
export function environmentDefaults({ storage, online$ }: Pick<SyncEngineOptions, 'storage' | 'online$'>): EnvironmentDefaults {
  return {
    storage: storage ?? defaultStorage(),
    online$: online$ ?? browserOnline$(),
    ...(!storage && !defaultStorageIsDurable() ? { notice: memoryStorageNotice() } : {}),
  };
}
