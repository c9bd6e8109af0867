import { describeError, preview, SyncStorageError } from './errors.js';
import { assignmentKey, type IdAssignment, type OutboxChange, type OutboxIdChange } from './outbox.js';
import { decodePosition, encodePosition, type PullPosition } from './pullPosition.js';
import type { SyncItem, SyncStorage } from './types.js';

/** Log entries since the last snapshot before the next batch compacts, at least. */
const MIN_COMPACT_ENTRIES = 1000;
/** The log may grow to this many times the live outbox before it is folded into a snapshot. */
const COMPACT_FACTOR = 2;

/** An item put into a list, or the id of one taken out; an id assignment kept, or the key of one forgotten. */
type LogEntry = [list: 'q' | 'f', itemOrRemovedId: SyncItem | string] | [list: 'm', assignmentOrForgottenKey: IdAssignment | string];
interface LogSegment {
  v: 1;
  entries: LogEntry[];
}
interface Snapshot {
  v: 1;
  /** Log segments up to this number are contained in the snapshot, except those in `unread`. */
  seq: number;
  queue: SyncItem[];
  failed: SyncItem[];
  /** Temporary ids the server replaced, oldest first (absent when none). */
  ids?: IdAssignment[];
  /** Segments that could not be read when they were loaded: not contained, never deleted, never replayed. */
  unread?: number[];
}

export interface LoadedOutbox {
  queue: SyncItem[];
  failed: SyncItem[];
  ids: IdAssignment[];
  /** Keys that held data the engine could not read; each was moved aside or left in place, never deleted. */
  problems: { key: string; keptAs?: string; error: SyncStorageError }[];
}

/** The whole outbox, as a snapshot stores it. */
export interface OutboxState {
  queue: readonly SyncItem[];
  failed: readonly SyncItem[];
  ids: readonly IdAssignment[];
}

/** What a localforage instance has beyond {@link SyncStorage}: it can open a sibling store and empty it. */
interface StoreFactory extends SyncStorage {
  createInstance(options: { name: string; storeName?: string; driver?: string }): SyncStorage & { clear(): Promise<void> };
  config(): { name?: string; storeName?: string };
  ready(): Promise<void>;
  driver(): string | null;
}

function isStoreFactory(storage: SyncStorage): storage is StoreFactory {
  const s = storage as Partial<StoreFactory>;
  return typeof s.createInstance === 'function' && typeof s.config === 'function' && typeof s.ready === 'function' && typeof s.driver === 'function';
}

/** One place log segments are kept: the outbox's storage, or a store of the log's own. */
class LogPlace {
  /** Segments here that may be deleted once a durable snapshot covers them. */
  deletable: number[] = [];
  /** Something here must never be deleted (data that could not be read), so the store is never cleared. */
  pinned = false;

  readonly #keyPrefix: string;
  /** Empties the whole place in one operation; only for a store holding nothing but this log. */
  readonly #clearAll: (() => Promise<void>) | undefined;

  constructor(
    readonly storage: SyncStorage,
    keyPrefix: string,
    /** How messages name a key here. */
    readonly label: (key: string) => string = (key) => key,
    clearAll?: () => Promise<void>,
  ) {
    this.#keyPrefix = keyPrefix;
    this.#clearAll = clearAll;
  }

  key(seq: number): string {
    return this.#keyPrefix + seq;
  }

  /** The segment number a key names, or undefined for a key that is not a segment of this log. */
  seqOf(key: string): number | undefined {
    if (!key.startsWith(this.#keyPrefix)) return undefined;
    const seq = Number(key.slice(this.#keyPrefix.length));
    return Number.isSafeInteger(seq) && seq > 0 && this.key(seq) === key ? seq : undefined;
  }

  /** Deletes the segments a snapshot up to `seq` made redundant: one `clear()` where the place allows it. */
  async dropUpTo(seq: number): Promise<void> {
    const gone = this.deletable.filter((s) => s <= seq);
    if (gone.length === 0) return;
    this.deletable = this.deletable.filter((s) => s > seq);
    if (this.#clearAll && !this.pinned && this.deletable.length === 0) {
      // One transaction however long the log; if it fails the segments stay, harmless, for the next compaction.
      await this.#clearAll().catch(() => this.deletable.push(...gone));
      return;
    }
    // A segment left behind is harmless: the snapshot's seq tells the next load to skip it.
    await Promise.all(gone.map((s) => this.storage.removeItem(this.key(s)).catch(() => undefined)));
  }
}

/**
 * The outbox on disk: an append-only log of changes, one storage key per batch, folded
 * into a snapshot key once the log outgrows the live outbox. A burst of writes costs one
 * `setItem`; compaction writes each live item once per that many changes, so the cost per
 * write stays flat however long the queue grows.
 *
 * Given a localforage instance, the log lives in a localforage database of its own
 * (`{name}:{storageKey}:outbox-log`), which compaction empties with one `clear()` once the
 * snapshot is durable: one storage operation however many segments there were, where
 * removing them one by one costs an IndexedDB transaction each. Other storages keep the
 * log under `{storageKey}:outbox:log:{n}` and compaction removes its segments one by one.
 * Segment numbers only grow, past every segment key found, readable or not, so no write
 * ever lands on a key that still holds data.
 */
export class OutboxStore {
  #seq = 0;
  #entriesSinceSnapshot = 0;
  #mustSnapshot = false;
  /** Set when the stored outbox could not be listed, or its snapshot read: writing now could cover writes never read. */
  #unreadable: SyncStorageError | undefined;
  /** Log segments under the outbox's own keys (every log, before logs had a store of their own). */
  readonly #home: LogPlace;
  /** Where new segments go: `#home`, or the log's own store once `load()` opened it. */
  #appendTo: LogPlace;
  #places: LogPlace[];
  /** Segments that could not be read: never replayed later (a snapshot may already hold newer state), never deleted. */
  readonly #unread = new Set<number>();

  readonly #storage: SyncStorage;
  readonly #prefix: string;
  /** Rejects when this engine may no longer write (another tab leads); awaited right before each write. */
  readonly #fence: (() => Promise<void>) | undefined;

  constructor(storage: SyncStorage, prefix: string, fence?: () => Promise<void>) {
    this.#storage = storage;
    this.#prefix = prefix;
    this.#fence = fence;
    this.#home = new LogPlace(storage, `${prefix}:outbox:log:`);
    this.#appendTo = this.#home;
    this.#places = [this.#home];
  }

  get #snapshotKey(): string {
    return `${this.#prefix}:outbox:snapshot`;
  }

  checkpointKey(entity: string): string {
    return `${this.#prefix}:checkpoint:${entity}`;
  }

  /** Opens the log's own store where the storage can make one. */
  async #openLogStore(): Promise<LogPlace | undefined> {
    if (!isStoreFactory(this.#storage)) return undefined;
    await this.#storage.ready();
    const { name = 'localforage', storeName } = this.#storage.config();
    const driver = this.#storage.driver();
    const logName = `${name}:${this.#prefix}:outbox-log`;
    const logStore = this.#storage.createInstance({ name: logName, storeName, ...(driver ? { driver } : {}) });
    return new LogPlace(logStore, '', (key) => `${logName}/${key}`, () => logStore.clear());
  }

  /**
   * The stored outbox. Never rejects: a key that cannot be read is a problem reported with the
   * rest, and a load that could not see the whole outbox (storage that cannot list its keys, or
   * that fails in a way nobody foresaw) starts empty and refuses every write.
   */
  async load(): Promise<LoadedOutbox> {
    try {
      return await this.#loadAll();
    } catch (error) {
      return this.#startEmpty(this.#prefix, `Could not load the stored outbox (${describeError(error)})`, error);
    }
  }

  async #loadAll(): Promise<LoadedOutbox> {
    const problems: LoadedOutbox['problems'] = [];
    const queue = new Map<string, SyncItem>();
    const failed = new Map<string, SyncItem>();
    const ids = new Map<string, IdAssignment>();
    const keys = keyList(await this.#storage.keys());
    const listed: [LogPlace, string[]][] = [[this.#home, keys]];
    const logStore = await this.#openLogStore();
    if (logStore) {
      listed.push([logStore, keyList(await logStore.storage.keys())]);
      this.#places = [this.#home, logStore];
      this.#appendTo = logStore;
    }

    let snapshotSeq = 0;
    if (keys.includes(this.#snapshotKey)) {
      let unreadable: { cause: unknown } | undefined;
      const snapshot = await this.#read(this.#home, this.#snapshotKey, isSnapshot, problems, (cause) => (unreadable = { cause }));
      // The log only makes sense on top of the snapshot, and the next snapshot would replace it.
      if (unreadable) {
        return this.#startEmpty(this.#snapshotKey, `Could not read or set aside the stored outbox "${this.#snapshotKey}" (${describeError(unreadable.cause)})`, unreadable.cause);
      }
      if (snapshot) {
        snapshotSeq = snapshot.seq;
        for (const seq of snapshot.unread ?? []) this.#unread.add(seq);
        for (const item of snapshot.queue) queue.set(item.id, item);
        for (const item of snapshot.failed) failed.set(item.id, item);
        for (const assignment of snapshot.ids ?? []) ids.set(assignmentKey(assignment), assignment);
      }
    }
    const live: [seq: number, place: LogPlace][] = [];
    const stillUnread = new Set<number>();
    const keptUnread: string[] = [];
    for (const [place, placeKeys] of listed) {
      for (const key of placeKeys) {
        const seq = place.seqOf(key);
        if (seq === undefined) {
          // Not ours to judge in the outbox's storage; in the log's own store, something clear() must not take.
          if (place !== this.#home) place.pinned = true;
          continue;
        }
        this.#seq = Math.max(this.#seq, seq);
        if (this.#unread.has(seq)) {
          place.pinned = true;
          stillUnread.add(seq);
          keptUnread.push(place.label(key));
        } else if (seq <= snapshotSeq) place.deletable.push(seq);
        else live.push([seq, place]);
      }
    }
    // A key someone repaired by removing it is no longer anything to keep.
    for (const seq of this.#unread) if (!stillUnread.has(seq)) this.#unread.delete(seq);
    this.#seq = Math.max(this.#seq, snapshotSeq);
    for (const [seq, place] of live.sort((a, b) => a[0] - b[0])) {
      const segment = await this.#read(place, place.key(seq), isSegment, problems, () => {
        this.#unread.add(seq);
        place.pinned = true;
      });
      if (!segment) continue;
      place.deletable.push(seq);
      this.#entriesSinceSnapshot += segment.entries.length;
      for (const [list, entry] of segment.entries) {
        if (list === 'm') {
          if (typeof entry === 'string') ids.delete(entry);
          else ids.set(assignmentKey(entry), entry);
          continue;
        }
        const target = list === 'q' ? queue : failed;
        if (typeof entry === 'string') target.delete(entry);
        else target.set(entry.id, entry);
      }
    }
    // Anything unreadable was moved aside or set apart: a fresh snapshot makes storage match what was loaded.
    if (problems.length > 0) this.#mustSnapshot = true;
    // Said again at every load while the key is there: the engine that found it may have been destroyed before it could say so.
    for (const key of keptUnread) {
      problems.push({ key, error: new SyncStorageError(`[rxsync] "${key}" could not be read at an earlier load; its writes are not loaded, and the key is left in place.`, key) });
    }
    return { queue: [...queue.values()], failed: [...failed.values()], ids: [...ids.values()], problems };
  }

  /**
   * What a load that could not see the whole stored outbox gives: nothing loaded, and every later
   * write refused, so that nothing is written over writes it could not read; a new engine tries again.
   */
  #startEmpty(key: string, what: string, cause: unknown): LoadedOutbox {
    this.#unreadable = new SyncStorageError(
      `[rxsync] ${what}, so this engine starts empty and stores nothing, lest it write over writes it could not read. Check the storage, then create a new engine.`,
      key,
      cause,
    );
    return { queue: [], failed: [], ids: [], problems: [{ key, error: this.#unreadable }] };
  }

  /**
   * Makes `changes` and `assignments` durable, in one storage write. `live` is the number of
   * items and assignments in the outbox; `snapshot` is called (only when compacting, and
   * synchronously, before anything is awaited) so it describes the outbox exactly as of these changes.
   */
  async write(
    changes: readonly OutboxChange[],
    live: number,
    snapshot: () => OutboxState,
    assignments: readonly OutboxIdChange[] = [],
  ): Promise<void> {
    if (changes.length === 0 && assignments.length === 0 && !this.#mustSnapshot) return;
    if (this.#unreadable) throw this.#unreadable;
    try {
      if (this.#mustSnapshot || this.#entriesSinceSnapshot + changes.length > Math.max(MIN_COMPACT_ENTRIES, COMPACT_FACTOR * live)) {
        await this.#writeSnapshot(snapshot());
      } else {
        await this.#appendSegment(changes, assignments);
      }
    } catch (error) {
      // Storage may now hold less than memory did before this write: next time, write it all.
      this.#mustSnapshot = true;
      throw error instanceof SyncStorageError
        ? error
        : new SyncStorageError(
            `[rxsync] Could not persist the outbox (${describeError(error)}). The writes of this batch were not queued; try again once storage has room.`,
            this.#prefix,
            error,
          );
    }
  }

  async #appendSegment(changes: readonly OutboxChange[], assignments: readonly OutboxIdChange[]): Promise<void> {
    const place = this.#appendTo;
    const seq = ++this.#seq;
    const entries = changes.map((c): LogEntry => [c.list === 'queue' ? 'q' : 'f', c.item ?? c.id]);
    for (const { key, assignment } of assignments) entries.push(['m', assignment ?? key]);
    if (this.#fence) await this.#fence();
    await place.storage.setItem<LogSegment>(place.key(seq), { v: 1, entries });
    place.deletable.push(seq);
    this.#entriesSinceSnapshot += entries.length;
  }

  async #writeSnapshot(state: OutboxState): Promise<void> {
    const seq = this.#seq;
    const unread = this.#unread.size > 0 ? { unread: [...this.#unread] } : {};
    const ids = state.ids.length > 0 ? { ids: [...state.ids] } : {};
    if (this.#fence) await this.#fence();
    await this.#storage.setItem<Snapshot>(this.#snapshotKey, { v: 1, seq, queue: [...state.queue], failed: [...state.failed], ...ids, ...unread });
    this.#mustSnapshot = false;
    this.#entriesSinceSnapshot = 0;
    // Only now that the snapshot is durable may the segments it covers go.
    if (this.#fence) await this.#fence();
    await Promise.all(this.#places.map((place) => place.dropUpTo(seq)));
  }

  async loadCheckpoint(entity: string): Promise<PullPosition> {
    return decodePosition(await this.#storage.getItem<unknown>(this.checkpointKey(entity)));
  }

  /** Checkpoint and transport state in one key, so a crash never keeps one without the other. */
  async saveCheckpoint(entity: string, position: PullPosition): Promise<void> {
    if (this.#fence) await this.#fence();
    await this.#storage.setItem(this.checkpointKey(entity), encodePosition(position));
  }

  /**
   * Reads a key and checks its shape. Data of the wrong shape is copied aside under
   * `…:corrupt:…` and reported; a key that cannot be read at all, or not moved, is left where
   * it is and `unreadable` is told, so that nothing ever deletes or writes over it.
   */
  async #read<T>(
    from: LogPlace,
    storageKey: string,
    valid: (value: unknown) => value is T,
    problems: LoadedOutbox['problems'],
    unreadable: (cause: unknown) => void = () => undefined,
  ): Promise<T | undefined> {
    const key = from.label(storageKey);
    let value: unknown;
    try {
      value = await from.storage.getItem<unknown>(storageKey);
    } catch (error) {
      unreadable(error);
      problems.push({
        key,
        error: new SyncStorageError(`[rxsync] Could not read "${key}" (${describeError(error)}); its writes are not loaded, and the key is left in place.`, key, error),
      });
      return undefined;
    }
    if (valid(value)) return value;
    const keptAs = `${this.#prefix}:corrupt:${Date.now()}:${key}`;
    let moved = true;
    try {
      await this.#storage.setItem(keptAs, value);
      await from.storage.removeItem(storageKey);
    } catch (error) {
      moved = false;
      unreadable(error);
    }
    problems.push({
      key,
      keptAs: moved ? keptAs : undefined,
      error: new SyncStorageError(
        `[rxsync] "${key}" does not hold rxsync outbox data (found ${preview(value)}); ${moved ? `kept it aside as "${keptAs}" and` : 'left it in place and'} started without it. Use another storageKey if something else owns these keys.`,
        key,
      ),
    });
    return undefined;
  }
}

const OPERATIONS = new Set(['create', 'update', 'delete']);

export function isSyncItem(value: unknown): value is SyncItem {
  const item = value as SyncItem | null;
  return (
    typeof item === 'object' &&
    item !== null &&
    typeof item.id === 'string' &&
    typeof item.entity === 'string' &&
    OPERATIONS.has(item.operation) &&
    typeof item.data === 'object' &&
    item.data !== null &&
    typeof item.timestamp === 'string' &&
    typeof item.retryCount === 'number'
  );
}

function isIdAssignment(value: unknown): value is IdAssignment {
  const a = value as IdAssignment | null;
  const isId = (id: unknown) => typeof id === 'string' || typeof id === 'number';
  return typeof a === 'object' && a !== null && typeof a.entity === 'string' && isId(a.tempId) && isId(a.id);
}

function isSnapshot(value: unknown): value is Snapshot {
  const s = value as Snapshot | null;
  return (
    typeof s === 'object' && s !== null && s.v === 1 && Number.isInteger(s.seq) &&
    (s.unread === undefined || (Array.isArray(s.unread) && s.unread.every(Number.isSafeInteger))) &&
    (s.ids === undefined || (Array.isArray(s.ids) && s.ids.every(isIdAssignment))) &&
    Array.isArray(s.queue) && s.queue.every(isSyncItem) && Array.isArray(s.failed) && s.failed.every(isSyncItem)
  );
}

function isSegment(value: unknown): value is LogSegment {
  const s = value as LogSegment | null;
  return (
    typeof s === 'object' && s !== null && s.v === 1 && Array.isArray(s.entries) &&
    s.entries.every(
      (e) =>
        Array.isArray(e) &&
        (((e[0] === 'q' || e[0] === 'f') && (typeof e[1] === 'string' || isSyncItem(e[1]))) || (e[0] === 'm' && (typeof e[1] === 'string' || isIdAssignment(e[1])))),
    )
  );
}

/** What `keys()` gave, if it is a list of key names: storage adapters of the app's own may give anything. */
function keyList(keys: unknown): string[] {
  if (Array.isArray(keys) && keys.every((key) => typeof key === 'string')) return keys;
  throw new Error(`keys() gave ${preview(keys)}, not a list of key names`);
}
