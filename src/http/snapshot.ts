/** A record id as a list endpoint returns it. */
export type RecordId = string | number;

/** Snapshot mode's settings. */
export interface SnapshotOptions {
  /** The id of a listed record. Default: its `id` field when that is a string or a number. */
  idOf?: (item: unknown) => RecordId | undefined;
  /**
   * Before reporting a vanished id as deleted, ask `GET {endpoint}/{id}`: `404`/`410` confirms
   * the deletion, a record means it only moved between pages while the list was read (offset
   * paging does that) and it is handed on instead. Costs one request per vanished id. Default false.
   */
  confirmDeletions?: boolean;
}

/** What a tombstone synthesized for a vanished record looks like: the same shape as the protocol's. */
export interface SynthesizedTombstone {
  /** The vanished record's id, as the previous listing held it. */
  id: RecordId;
  /** Always `true`: the record is gone. */
  deleted: true;
}

export function defaultIdOf(item: unknown): RecordId | undefined {
  const id = typeof item === 'object' && item !== null ? (item as { id?: unknown }).id : undefined;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined;
}

/**
 * Compares a full listing with the ids the previous one held: the ids it holds now, and those
 * that vanished. Records without an id cannot be tracked. Ids compare as strings, as they
 * appear in URLs.
 */
export function diffSnapshot(
  listed: readonly unknown[],
  known: readonly RecordId[],
  idOf: (item: unknown) => RecordId | undefined,
): { vanished: RecordId[]; known: RecordId[] } {
  const present = new Map<string, RecordId>();
  for (const item of listed) {
    const id = idOf(item);
    if (id !== undefined) present.set(String(id), id);
  }
  const vanished = new Map<string, RecordId>();
  for (const id of known) {
    if (!present.has(String(id))) vanished.set(String(id), id);
  }
  return { vanished: [...vanished.values()], known: [...present.values()] };
}
