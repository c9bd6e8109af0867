import { describeError, SyncStorageError } from './errors.js';
import { recordIdOf } from './recordFields.js';
import type { SyncStorage } from './types.js';

interface StoredBases {
  v: 1;
  records: unknown[];
}

/**
 * The server's records behind what the app was shown: whenever a record goes to the app with
 * its pending writes on top, the record as the server sent it is kept here (per entity and id,
 * the latest), until the app is handed that record without an overlay again. Should the
 * pending writes end without landing, this is what the app gets back.
 *
 * Kept in storage, one key per entity (`{storageKey}:overlay-bases:{entity}`): after a restart
 * a pull from the stored checkpoint does not bring an unchanged record again, so a base known
 * only in memory would be gone for good. A key that cannot be read counts as empty and is
 * reported; it is written over only once a new base must be kept.
 */
export class OverlayBases {
  readonly #bases = new Map<string, Map<string, unknown>>();
  readonly #loading = new Map<string, Promise<Map<string, unknown>>>();
  /** Entities whose bases changed since they were last stored (a failed save stays here). */
  readonly #dirty = new Set<string>();

  readonly #storage: SyncStorage;
  readonly #prefix: string;
  /** Told of storage that failed; the bases hold in memory all the same. */
  readonly #onError: (error: SyncStorageError) => void;

  constructor(storage: SyncStorage, prefix: string, onError: (error: SyncStorageError) => void) {
    this.#storage = storage;
    this.#prefix = prefix;
    this.#onError = onError;
  }

  /** The entity's bases, read from storage on first use. */
  load(entity: string): Promise<Map<string, unknown>> {
    let loading = this.#loading.get(entity);
    if (!loading) {
      loading = this.#read(entity);
      this.#loading.set(entity, loading);
    }
    return loading;
  }

  /** The ids that have a base (the entity must be loaded). */
  ids(entity: string): (string | number)[] {
    return [...(this.#bases.get(entity)?.values() ?? [])].map((record) => recordIdOf(record)!);
  }

  get(entity: string, id: string | number): unknown {
    return this.#bases.get(entity)?.get(String(id));
  }

  has(entity: string, id: string | number): boolean {
    return this.#bases.get(entity)?.has(String(id)) ?? false;
  }

  set(entity: string, record: unknown): void {
    this.#bases.get(entity)?.set(String(recordIdOf(record)), record);
    this.#dirty.add(entity);
  }

  /** False only when the entity is loaded and has no base for `id`. */
  mayHave(entity: string, id: string | number): boolean {
    const bases = this.#bases.get(entity);
    return bases === undefined || bases.has(String(id));
  }

  /** Forgets a base; true when there was one. */
  delete(entity: string, id: string | number): boolean {
    const deleted = this.#bases.get(entity)?.delete(String(id)) ?? false;
    if (deleted) this.#dirty.add(entity);
    return deleted;
  }

  /**
   * Stores the entity's bases as they stand, when they changed since last stored. A failure is
   * reported, not thrown, and says false: the next change tries to store them again.
   */
  async save(entity: string): Promise<boolean> {
    if (!this.#dirty.delete(entity)) return true;
    const records = [...(this.#bases.get(entity)?.values() ?? [])];
    const key = this.#keyOf(entity);
    try {
      if (records.length === 0) await this.#storage.removeItem(key);
      else await this.#storage.setItem<StoredBases>(key, { v: 1, records });
      return true;
    } catch (error) {
      this.#dirty.add(entity);
      this.#onError(
        new SyncStorageError(
          `[rxsync] Could not store the server's records behind pending local edits of "${entity}" (${describeError(error)}), so they are shown as the server sent them, not marked pending (engine.pendingFor() still lists the writes), until storage works again.`,
          key,
          error,
        ),
      );
      return false;
    }
  }

  #keyOf(entity: string): string {
    return `${this.#prefix}:overlay-bases:${entity}`;
  }

  async #read(entity: string): Promise<Map<string, unknown>> {
    const bases = new Map<string, unknown>();
    const key = this.#keyOf(entity);
    try {
      const stored = await this.#storage.getItem<unknown>(key);
      if (stored !== null && !isStoredBases(stored)) throw new Error('it is not a list of records');
      for (const record of stored?.records ?? []) bases.set(String(recordIdOf(record)), record);
    } catch (error) {
      this.#onError(
        new SyncStorageError(
          `[rxsync] Could not read "${key}" (${describeError(error)}): a record shown with a local edit that then fails keeps showing it until the server changes the record again.`,
          key,
          error,
        ),
      );
    }
    // Only now: until then, mayHave() must not say there is none.
    this.#bases.set(entity, bases);
    return bases;
  }
}

function isStoredBases(value: unknown): value is StoredBases {
  const stored = value as StoredBases;
  return (
    typeof stored === 'object' &&
    stored.v === 1 &&
    Array.isArray(stored.records) &&
    stored.records.every((record) => record !== null && typeof record === 'object' && recordIdOf(record) !== undefined)
  );
}
