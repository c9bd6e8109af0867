import type { SyncItem } from './types.js';

const sameData = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const mergeData = (a: unknown, b: unknown): unknown => ({ ...(a as object), ...(b as object) });

/**
 * The dedupe rules: what a new write does to the open queued write of the same record.
 *
 * | queued          | new write                  | result                                   |
 * |-----------------|----------------------------|------------------------------------------|
 * | create          | update                     | one create, fields shallow-merged        |
 * | create          | delete                     | nothing is sent at all (`'cancel'`)      |
 * | update          | update                     | one update, fields shallow-merged        |
 * | update          | delete                     | one delete                               |
 * | create / update | same operation, same data  | the queued item, unchanged               |
 * | delete          | create                     | both, in order (`'append'`)              |
 */
export function coalesce(queued: SyncItem, next: SyncItem): SyncItem | 'cancel' | 'append' {
  const sameOp = queued.operation === next.operation;
  if (sameOp && sameData(queued.data, next.data)) return queued;
  if (next.operation === 'delete') {
    if (queued.operation === 'create') return 'cancel';
    return { ...queued, operation: 'delete', data: next.data, timestamp: next.timestamp };
  }
  if (next.operation === 'update' && queued.operation !== 'delete') {
    return { ...queued, data: mergeData(queued.data, next.data), timestamp: next.timestamp };
  }
  if (sameOp) {
    // A second create of a record never sent: the later one describes it better.
    return { ...queued, data: mergeData(queued.data, next.data), timestamp: next.timestamp };
  }
  return 'append';
}
