import { map, merge, tap, timer } from 'rxjs';
import { describe, it } from 'vitest';
import { dedupe, Outbox, type OutboxCommand, type OutboxTransition, persist } from '../../src/operators/index.js';
import type { Context } from 'rxjs-marbles';
import type { SyncItem } from '../../src/index.js';
import { item, marbles } from '../marbles.js';

// The coalescing table itself is a plain table over the reducer: test/outbox.spec.ts.
// These specs show what the operator does in time.

const enqueue = (queued: SyncItem): OutboxCommand => ({ type: 'enqueue', item: queued });
/** What the queue holds: id, operation and data of each item, in send order. */
const view = (outbox: Outbox) => outbox.items().map((i) => `${i.id}:${i.operation}:${JSON.stringify(i.data)}`);
/** The items one storage write holds: the last change of each item in the batch. */
const written = (batch: readonly OutboxTransition[]) => {
  const items = new Map(batch.flatMap((t) => t.changes).map((c) => [c.id, c.item] as const));
  return [...items.values()].map((i) => (i ? `${i.id}:${i.operation}:${JSON.stringify(i.data)}` : 'removed'));
};
/** What one transition asks storage to do: `+` put in, `~` replace, `-` take out, per item. */
const changes = ({ changes }: OutboxTransition) => changes.map((c) => `${c.item ? (c.previous ? '~' : '+') : '-'}${c.id}`).join(' ');

const c1 = item('k1', 'create', { id: '1', title: 'milk' });
const c1Again = item('k5', 'create', { id: '1', title: 'milk' });
const u1 = item('k2', 'update', { id: '1', done: true });
const u1b = item('k3', 'update', { id: '1', title: 'oat milk' });
const d1 = item('k4', 'delete', { id: '1' });
const c2 = item('k7', 'create', { id: '2', title: 'eggs' });

describe('dedupe', () => {
  it(
    'emits one transition per command, in the frame the command arrived; one that changes nothing emits an empty one',
    marbles((m) => {
      const commands = { a: enqueue(c1), b: enqueue(c1Again), c: enqueue(u1), d: enqueue(d1) };
      const transitions$ = m.cold('a-b--c-d|', commands).pipe(dedupe(), map(changes));
      // The duplicate create changes nothing; the update replaces k1 in place; the delete cancels the create.
      m.expect(transitions$).toBeObservable('a-b--c-d|', { a: '+k1', b: '', c: '~k1', d: '-k1' });
    }),
  );

  it(
    'behind persist, a burst that arrives during a storage write collapses: 4 commands, 2 storage writes, one item per record',
    marbles((m) => {
      const commands = { a: enqueue(c1), b: enqueue(u1), c: enqueue(u1b), d: enqueue(c2) };
      const stored$ = m.cold('abcd------|', commands).pipe(
        dedupe(),
        // Each storage write takes 3 ms; what arrives meanwhile goes into the next one.
        persist(() => timer(3)),
        map(({ values }) => written(values)),
      );
      m.expect(stored$).toBeObservable('---x--y---|', {
        x: ['k1:create:{"id":"1","title":"milk"}'],
        y: ['k1:create:{"id":"1","title":"oat milk","done":true}', 'k7:create:{"id":"2","title":"eggs"}'],
      });
    }),
  );

  interface Timing {
    when: string;
    sends: string;
    expected: string;
    queue: Record<string, string[]>;
  }
  const created = 'k1:create:{"id":"1","title":"milk"}';
  const merged = 'k1:create:{"id":"1","title":"milk","done":true}';
  it.each<Timing>([
    {
      when: 'sent after both writes, the update is merged into the create',
      sends: '---s',
      expected: 'a-bs--c',
      queue: { a: [created], b: [merged], s: [`${merged} sending`], c: [`${merged} sending`, 'k3:update:{"id":"1","title":"oat milk"}'] },
    },
    {
      when: 'sent between them, the create is sealed and the update queues behind it',
      sends: '-s',
      expected: 'asb---c',
      queue: {
        a: [created],
        s: [`${created} sending`],
        b: [`${created} sending`, 'k2:update:{"id":"1","done":true}'],
        c: [`${created} sending`, 'k2:update:{"id":"1","done":true,"title":"oat milk"}'],
      },
    },
  ])(
    'an item in flight is never merged into: $when',
    marbles((m: Context, { sends, expected, queue }: Timing) => {
      const outbox = new Outbox();
      const sending = new Set<string>();
      const show = () => view(outbox).map((line, i) => (sending.has(outbox.items()[i].id) ? `${line} sending` : line));
      const commands$ = m.cold('a-b---c', { a: enqueue(c1), b: enqueue(u1), c: enqueue(u1b) }).pipe(
        dedupe({ outbox }),
        // Durable at once: every item is ready to send.
        tap((transition) => outbox.persisted([transition])),
        map(show),
      );
      const sends$ = m.cold(sends).pipe(
        tap(() => outbox.take(10).forEach((sent) => sending.add(sent.id))),
        map(show),
      );
      m.expect(merge(commands$, sends$)).toBeObservable(expected, queue);
    }),
  );

  it(
    'each subscription gets a fresh outbox unless one is passed',
    marbles((m) => {
      const transitions$ = m.cold('a-b|', { a: enqueue(c1), b: enqueue(u1) }).pipe(dedupe(), map(changes));
      m.expect(transitions$).toBeObservable('a-b|', { a: '+k1', b: '~k1' });
      m.expect(transitions$).toBeObservable('a-b|', { a: '+k1', b: '~k1' });
    }),
  );
});
