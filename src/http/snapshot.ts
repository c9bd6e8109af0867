/** A record id as a list endpoint returns it. */
export type RecordId = string | number;

/** Snapshot mode's settings. */
export interface SnapshotOptions {
  /** The id of a listed record. Default: its `id` field when that is a string or a number. */
  idOf?: (item: unknown) => RecordId | undefined;
}

/** What a tombstone synthesized for a vanished record looks like: the same shape as the protocol's. */
export interface SynthesizedTombstone {
  id: RecordId;
  deleted: true;
}

export function defaultIdOf(item: unknown): RecordId | undefined {
  const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined;
}

/**
 * Compares a full listing with the ids the previous one held: every listed record is handed
 * on, and each id that vanished becomes a tombstone. Records without an id are handed on
 * but cannot be tracked. Ids compare as strings, as they appear in URLs.
 */
export function diffSnapshot(
  listed: readonly unknown[],
  known: readonly RecordId[],
  idOf: (item: unknown) => RecordId | undefined,
): { items: unknown[]; known: RecordId[] } {
  const present = new Map<string, RecordId>();
  for (const item of listed) {
    const id = idOf(item);
    if (id !== undefined) present.set(String(id), id);
  }
  const tombstones: SynthesizedTombstone[] = [];
  const reported = new Set<string>();
  for (const id of known) {
    const key = String(id);
    if (present.has(key) || reported.has(key)) continue;
    reported.add(key);
    tombstones.push({ id, deleted: true });
  }
  return { items: [...listed, ...tombstones], known: [...present.values()] };
}
