/**
 * Pull throughput: how many remote rows per second the engine applies from a backlog, in Node
 * with memoryStorage and a transport that answers at once (so the figure is the engine's own
 * cost: paging, read-your-writes overlay, onPull hand-over, checkpoint saves).
 *
 *   npx tsx bench/pullThroughput.ts [--rows 100000] [--page 1000] [--runs 3]
 */
import { of } from 'rxjs';
import { createSyncEngine, memoryStorage, type SyncTransport } from '../src/index.js';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const rows = arg('rows', 100_000);
const pageSize = arg('page', 1_000);
const runs = arg('runs', 3);
const backlog = Array.from({ length: rows }, (_, i) => ({ id: `r${i}`, title: `row ${i}`, done: i % 2 === 0, version: 1 }));

async function once(): Promise<number> {
  const transport: SyncTransport = {
    push: () => of({ status: 200, body: {} }),
    pull: ({ since }) => {
      const from = since === undefined ? 0 : Number(since);
      const items = backlog.slice(from, from + pageSize);
      return of({ items, checkpoint: String(from + items.length), hasMore: from + items.length < rows });
    },
  };
  let applied = 0;
  const engine = createSyncEngine({
    entities: { todos: { endpoint: '/todos' } },
    transport,
    storage: memoryStorage(),
    online$: of(true),
    autoPull: false,
    onPull: (_entity, items) => {
      applied += items.length;
    },
  });
  await engine.ready;
  // A few pending local edits, so the read-your-writes overlay is on the path.
  for (let i = 0; i < 10; i++) await engine.write({ entity: 'todos', operation: 'update', data: { id: `r${i * 997}`, title: 'mine' } });
  const started = performance.now();
  const result = await engine.pull();
  const seconds = (performance.now() - started) / 1000;
  engine.destroy();
  if (!result.success || applied !== rows) throw new Error(`pulled ${applied} of ${rows}`);
  return rows / seconds;
}

const figures: number[] = [];
for (let i = 0; i < runs; i++) figures.push(await once());
figures.sort((a, b) => a - b);
const median = figures[Math.floor(figures.length / 2)];
console.log(`pull throughput: ${Math.round(median).toLocaleString('en')} rows/s (median of ${runs}; ${rows.toLocaleString('en')} rows in pages of ${pageSize}, Node ${process.version}, memoryStorage)`);
console.log(`command: npx tsx bench/pullThroughput.ts --rows ${rows} --page ${pageSize} --runs ${runs}`);
