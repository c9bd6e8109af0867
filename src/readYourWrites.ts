import type { SyncItem } from './types.js';

/**
 * A remote record with the app's own pending writes of it applied on top, in send order: what
 * the record will be once they land. An update is merged field by field (as the server merges
 * a PATCH), a create or a client-wins overwrite replaces the record, a delete leaves a
 * tombstone `{ id, deleted: true }`. So a pull never shows an edit the user made flicking back.
 */
export function withPendingWrites(record: unknown, pending: readonly SyncItem[]): unknown {
  let shown = record;
  for (const item of pending) {
    const data = item.data as Record<string, unknown>;
    if (item.operation === 'delete') shown = { id: data.id, deleted: true };
    else if (item.operation === 'create' || item.overwrite || !isLiveRecord(shown)) shown = { ...data };
    else shown = { ...(shown as object), ...data };
  }
  return shown;
}

function isLiveRecord(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as { deleted?: unknown }).deleted !== true;
}
