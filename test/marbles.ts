import { TestScheduler } from 'rxjs/testing';
import { expect } from 'vitest';
import type { SyncItem, SyncOperation } from '../src/index.js';

/** A TestScheduler that asserts with vitest. */
export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toStrictEqual(expected));
}

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
