/** What the benchmark runner (Node), its page and its service worker say to each other. */
import type { BenchWrite } from './workload.js';

export type Phase = 'serial' | 'burst';
export type LibraryName = 'rxsync' | 'rxdb' | 'workbox';

export interface PageConfig {
  library: LibraryName;
  /** rxsync's batchSize; unset = the default. */
  batchSize?: number;
  /** rxsync's concurrency; unset = the default. */
  concurrency?: number;
  /** The server collection each phase writes to (fresh per run, so runs never see each other's records). */
  entities: Record<Phase, string>;
  /** Writes per phase. */
  count: number;
}

/** `window.benchPage`: every method answers in milliseconds measured in the page. */
export interface BenchPage {
  setup(config: PageConfig): Promise<void>;
  /** The phase's writes, each awaited in turn (serial) or all at once (burst); resolves when all are durable. */
  write(phase: Phase, serial: boolean): Promise<number>;
  /** Goes online and resolves once the library says everything is delivered. */
  drain(phase: Phase): Promise<number>;
  /**
   * Bytes of every key and value in every IndexedDB database of the origin (service worker's
   * included), counted as data (strings by length, numbers 8, binary by byteLength): what the
   * library keeps, whenever Chromium's LevelDB happens to compact its files on disk.
   */
  storedBytes(): Promise<number>;
}

export type WorkerMessage =
  | { type: 'write'; entity: string; writes: readonly BenchWrite[]; serial: boolean }
  /** Replays up to `limit` queued requests; answers `done: true` once the queue is empty. */
  | { type: 'drain'; limit: number };
