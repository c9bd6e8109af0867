/** What the demo page exposes as `window.rxsyncDemo`, for the console and the e2e tests. */
import type { Conflict, ConflictResolution, ConflictStrategy, SyncEngine, SyncEvent, SyncItem } from '../src/index.js';

/** A todo as the page shows it. `version` is the server version it was last seen at. */
export interface Todo {
  id: string;
  title: string;
  done: boolean;
  /** When the todo was created (ISO 8601), by the page that created it: the list's order. */
  createdAt?: string;
  version?: number;
  updatedAt?: string;
}

export type ResolvedConflict = Conflict & { resolution: ConflictResolution };

export interface RxsyncDemo {
  engine: SyncEngine<'todos'>;
  strategy: ConflictStrategy;
  /** Names this page's storage (`?client=`); pages with the same client share the outbox. */
  client: string;
  /** The localforage driver of the outbox storage: `asyncStorage` is IndexedDB. */
  storageDriver: string;
  /** True once the saved todos and the engine's persisted outbox are loaded and the UI is wired. */
  loaded: boolean;
  /** The list as shown: last known server state with the queued writes laid over it. */
  todos(): Todo[];
  /** The last known server state (pulled, or written and acknowledged). */
  serverTodos(): Todo[];
  /** The outbox as the engine holds it. */
  queue(): readonly SyncItem[];
  /** Every conflict seen on `conflicts$` since the page loaded. */
  conflicts: ResolvedConflict[];
  /** Every event seen on `events$` since the page loaded. */
  events: SyncEvent[];
  /** Pulls that finished since the page loaded. */
  pulls: number;
  /** The app's writes; each resolves once the write is durably queued. */
  add(title: string, id?: string): Promise<string>;
  rename(id: string, title: string): Promise<void>;
  toggle(id: string): Promise<void>;
  remove(id: string): Promise<void>;
}

declare global {
  interface Window {
    rxsyncDemo?: RxsyncDemo;
  }
}
