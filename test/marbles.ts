import { configure } from 'rxjs-marbles';
import { expect } from 'vitest';
import type { SyncItem, SyncOperation } from '../src/index.js';

/**
 * rxjs-marbles' `marbles()` for vitest (the package has no vitest entry): each spec runs in
 * `TestScheduler.run` mode (one character is 1 ms, `10ms` progressions work) and a mismatch
 * fails as a vitest diff of the notifications.
 */
export const { marbles } = configure({ assertDeepEqual: (actual, expected) => expect(actual).toStrictEqual(expected), frameworkMatcher: true });

let seq = 0;
/** A queued item, as the engine makes them; `key` is its id (idempotency key). */
export function item(
  key: string,
  operation: SyncOperation,
  data: Record<string, unknown>,
  extra: Partial<SyncItem> = {},
): SyncItem {
  seq++;
  return { id: key, entity: 'todos', operation, data, timestamp: `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`, retryCount: 0, ...extra };
}
