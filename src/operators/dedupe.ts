import { defer, map, type OperatorFunction } from 'rxjs';
import { Outbox, type OutboxCommand, type OutboxTransition } from '../outbox.js';

/**
 * Applies outbox commands in order and coalesces writes to the same record by the dedupe
 * rules (create+update → one create, create+delete → nothing, update+update → one merged
 * update, update+delete → one delete, exact duplicates → one item, delete+create → both).
 * Items in flight are never changed; a later write for their record queues behind them.
 *
 * Emits one {@link OutboxTransition} per command: the changes it made, ready to persist.
 * Every command costs O(1). Pass your own `outbox` to read the queue as it stands; by
 * default each subscription gets a fresh one.
 *
 * @example
 * ```ts
 * import { Subject } from 'rxjs';
 * import { dedupe, type OutboxCommand } from 'rxsync/operators';
 *
 * const commands$ = new Subject<OutboxCommand>();
 * commands$.pipe(dedupe()).subscribe(({ changes }) => console.log(changes.map((c) => c.item?.data)));
 * const item = (id: string, operation: 'create' | 'update', data: object) =>
 *   ({ id, entity: 'todos', operation, data, timestamp: new Date().toISOString(), retryCount: 0 });
 * commands$.next({ type: 'enqueue', item: item('a', 'create', { id: '1', title: 'milk' }) });
 * commands$.next({ type: 'enqueue', item: item('b', 'update', { id: '1', done: true }) });
 * // logs [{ id: '1', title: 'milk' }] then [{ id: '1', title: 'milk', done: true }]: still one create
 * ```
 */
export function dedupe(options: { outbox?: Outbox } = {}): OperatorFunction<OutboxCommand, OutboxTransition> {
  return (source) =>
    defer(() => {
      const outbox = options.outbox ?? new Outbox();
      return source.pipe(map((command) => outbox.apply(command)));
    });
}
