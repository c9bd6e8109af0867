import { describeError, preview, SyncStorageError } from './errors.js';
import type { OutboxChange } from './outbox.js';
import { decodePosition, encodePosition, type PullPosition } from './pullPosition.js';
import type { SyncItem, SyncStorage } from './types.js';

/** Log entries since the last snapshot before the next batch compacts, at least. */
const MIN_COMPACT_ENTRIES = 1000;
/** The log may grow to this many times the live outbox before it is folded into a snapshot. */
const COMPACT_FACTOR = 2;

/** An item put into a list, or the id of one taken out. */
type LogEntry = [list: 'q' | 'f', itemOrRemovedId: SyncItem | string];
interface LogSegment {
  v: 1;
  entries: LogEntry[];
}
interface Snapshot {
  v: 1;
  /** Log segments up to this number are contained in the snapshot. */
  seq: number;
  queue: SyncItem[];
  failed: SyncItem[];
}

export interface LoadedOutbox {
  queue: SyncItem[];
  failed: SyncItem[];
  /** Keys that held data the engine could not read; each was moved aside, not deleted. */
  problems: { key: string; keptAs?: string; error: SyncStorageError }[];
}

/**
 * The outbox on disk: an append-only log of changes, one storage key per batch, folded
 * into a snapshot key once the log outgrows the live outbox. A burst of writes costs one
 * `setItem`; compaction writes each live item once per that many changes, so the cost per
 * write stays flat however long the queue grows.
 */
export class OutboxStore {
  private seq = 0;
  private segments: number[] = [];
  private entriesSinceSnapshot = 0;
  private mustSnapshot = false;
  /** Set when the stored outbox could not even be listed: writing now could cover writes never read. */
  private unlisted: SyncStorageError | undefined;

  constructor(
    private readonly storage: SyncStorage,
    private readonly prefix: string,
  ) {}

  private get snapshotKey(): string {
    return `${this.prefix}:outbox:snapshot`;
  }

  private segmentKey(seq: number): string {
    return `${this.prefix}:outbox:log:${seq}`;
  }

  checkpointKey(entity: string): string {
    return `${this.prefix}:checkpoint:${entity}`;
  }

  async load(): Promise<LoadedOutbox> {
    const problems: LoadedOutbox['problems'] = [];
    const queue = new Map<string, SyncItem>();
    const failed = new Map<string, SyncItem>();
    let keys: string[];
    try {
      keys = await this.storage.keys();
    } catch (error) {
      this.unlisted = new SyncStorageError(
        `[rxsync] Could not list the stored outbox (${describeError(error)}), so this engine starts empty and stores nothing, lest it write over writes it could not read. Check the storage, then create a new engine.`,
        this.prefix,
        error,
      );
      return { queue: [], failed: [], problems: [{ key: this.prefix, error: this.unlisted }] };
    }
    const logPrefix = `${this.prefix}:outbox:log:`;
    const segments = keys
      .filter((key) => key.startsWith(logPrefix))
      .map((key) => Number(key.slice(logPrefix.length)))
      .sort((a, b) => a - b);

    let snapshotSeq = 0;
    if (keys.includes(this.snapshotKey)) {
      const snapshot = await this.read(this.snapshotKey, isSnapshot, problems);
      if (snapshot) {
        snapshotSeq = snapshot.seq;
        for (const item of snapshot.queue) queue.set(item.id, item);
        for (const item of snapshot.failed) failed.set(item.id, item);
      }
    }
    for (const seq of segments) {
      const key = this.segmentKey(seq);
      if (!Number.isInteger(seq) || seq <= snapshotSeq) {
        await this.storage.removeItem(key).catch(() => undefined);
        continue;
      }
      const segment = await this.read(key, isSegment, problems);
      if (!segment) continue;
      this.segments.push(seq);
      this.entriesSinceSnapshot += segment.entries.length;
      for (const [list, entry] of segment.entries) {
        const target = list === 'q' ? queue : failed;
        if (typeof entry === 'string') target.delete(entry);
        else target.set(entry.id, entry);
      }
    }
    this.seq = Math.max(snapshotSeq, ...this.segments);
    // Anything unreadable was moved aside: a fresh snapshot makes storage match what was loaded.
    if (problems.length > 0) this.mustSnapshot = true;
    return { queue: [...queue.values()], failed: [...failed.values()], problems };
  }

  /**
   * Makes `changes` durable. `live` is the number of items in the outbox; `snapshot` is
   * called (only when compacting, and synchronously, before anything is awaited) so it
   * describes the outbox exactly as of these changes.
   */
  async write(
    changes: readonly OutboxChange[],
    live: number,
    snapshot: () => { queue: readonly SyncItem[]; failed: readonly SyncItem[] },
  ): Promise<void> {
    if (changes.length === 0 && !this.mustSnapshot) return;
    if (this.unlisted) throw this.unlisted;
    try {
      if (this.mustSnapshot || this.entriesSinceSnapshot + changes.length > Math.max(MIN_COMPACT_ENTRIES, COMPACT_FACTOR * live)) {
        await this.writeSnapshot(snapshot());
      } else {
        await this.appendSegment(changes);
      }
    } catch (error) {
      // Storage may now hold less than memory did before this write: next time, write it all.
      this.mustSnapshot = true;
      throw error instanceof SyncStorageError
        ? error
        : new SyncStorageError(
            `[rxsync] Could not persist the outbox (${describeError(error)}). The writes of this batch were not queued; try again once storage has room.`,
            this.prefix,
            error,
          );
    }
  }

  private async appendSegment(changes: readonly OutboxChange[]): Promise<void> {
    const seq = ++this.seq;
    const entries = changes.map((c): LogEntry => [c.list === 'queue' ? 'q' : 'f', c.item ?? c.id]);
    await this.storage.setItem<LogSegment>(this.segmentKey(seq), { v: 1, entries });
    this.segments.push(seq);
    this.entriesSinceSnapshot += entries.length;
  }

  private async writeSnapshot(state: { queue: readonly SyncItem[]; failed: readonly SyncItem[] }): Promise<void> {
    const seq = this.seq;
    await this.storage.setItem<Snapshot>(this.snapshotKey, { v: 1, seq, queue: [...state.queue], failed: [...state.failed] });
    this.mustSnapshot = false;
    this.entriesSinceSnapshot = 0;
    const superseded = this.segments.filter((s) => s <= seq);
    this.segments = this.segments.filter((s) => s > seq);
    // A segment left behind is harmless: the snapshot's seq tells the next load to skip it.
    await Promise.all(superseded.map((s) => this.storage.removeItem(this.segmentKey(s)).catch(() => undefined)));
  }

  async loadCheckpoint(entity: string): Promise<PullPosition> {
    return decodePosition(await this.storage.getItem<unknown>(this.checkpointKey(entity)));
  }

  /** Checkpoint and transport state in one key, so a crash never keeps one without the other. */
  async saveCheckpoint(entity: string, position: PullPosition): Promise<void> {
    await this.storage.setItem(this.checkpointKey(entity), encodePosition(position));
  }

  /** Reads a key and checks its shape; unreadable data is moved aside under `…:corrupt:…` and reported. */
  private async read<T>(key: string, valid: (value: unknown) => value is T, problems: LoadedOutbox['problems']): Promise<T | undefined> {
    let value: unknown;
    try {
      value = await this.storage.getItem<unknown>(key);
    } catch (error) {
      problems.push({
        key,
        error: new SyncStorageError(`[rxsync] Could not read "${key}" (${describeError(error)}); its writes are not loaded.`, key, error),
      });
      return undefined;
    }
    if (valid(value)) return value;
    const keptAs = `${this.prefix}:corrupt:${Date.now()}:${key}`;
    let moved = true;
    try {
      await this.storage.setItem(keptAs, value);
      await this.storage.removeItem(key);
    } catch {
      moved = false;
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

function isSnapshot(value: unknown): value is Snapshot {
  const s = value as Snapshot | null;
  return (
    typeof s === 'object' && s !== null && s.v === 1 && Number.isInteger(s.seq) &&
    Array.isArray(s.queue) && s.queue.every(isSyncItem) && Array.isArray(s.failed) && s.failed.every(isSyncItem)
  );
}

function isSegment(value: unknown): value is LogSegment {
  const s = value as LogSegment | null;
  return (
    typeof s === 'object' && s !== null && s.v === 1 && Array.isArray(s.entries) &&
    s.entries.every(
      (e) => Array.isArray(e) && (e[0] === 'q' || e[0] === 'f') && (typeof e[1] === 'string' || isSyncItem(e[1])),
    )
  );
}
