/**
 * Poke-to-visible latency. Run: `npx tsx bench/pokeLatency.ts [--edits 200]`
 *
 * Writer A edits one record on the reference server (loopback, SQLite in memory) over HTTP, one
 * edit at a time; reader B is an engine with `poke$: eventSourcePoke(…/_events)` and no other
 * pull trigger (`autoPull: false`), never calling `pull()`. Measured per edit: from A's write being acked (its answer arrived) to B's
 * `pulled$` emitting the edited value. Prints p50/p95/max against the 100 ms p95 target.
 */
import { filter, firstValueFrom } from 'rxjs';
import { startSyncServer } from '../server/index.js';
import { createSyncEngine, eventSourcePoke, httpTransport, memoryStorage } from '../src/index.js';

const editsArg = process.argv.indexOf('--edits');
const edits = editsArg === -1 ? 200 : Number(process.argv[editsArg + 1]);
if (!Number.isInteger(edits) || edits < 1) throw new Error('--edits must be a positive integer');

const server = await startSyncServer({ rateLimit: false, admin: true });
const reader = createSyncEngine<'todos'>({
  entities: { todos: { endpoint: '/todos' } },
  transport: httpTransport({ baseUrl: server.url }),
  storage: memoryStorage(),
  autoPull: false,
  poke$: eventSourcePoke(`${server.url}/_events`),
});
await reader.ready;

const put = async (n: number) => {
  const response = await fetch(`${server.url}/todos/bench`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ n }) });
  if (!response.ok) throw new Error(`PUT answered ${response.status}`);
};
const visible = (n: number) => firstValueFrom(reader.pulled$.pipe(filter(({ items }) => items.some((item) => (item as { n?: number }).n === n))));

// A write before the event stream is open pokes nobody: wait for it (the admin stats count it).
const streams = async () => ((await (await fetch(`${server.url}/__stats`)).json()) as { eventStreams: number }).eventStreams;
while ((await streams()) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
// Warm up.
for (let n = -5; n < 0; n++) {
  const seen = visible(n);
  await put(n);
  await seen;
}

const latencies: number[] = [];
let beforeAck = 0;
for (let n = 0; n < edits; n++) {
  let seenAt = 0;
  const seen = visible(n).then(() => (seenAt = performance.now()));
  await put(n);
  const ackedAt = performance.now();
  await seen;
  if (seenAt < ackedAt) beforeAck++;
  latencies.push(Math.max(0, seenAt - ackedAt));
}

reader.destroy();
await server.close();

latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)].toFixed(1);
console.log(`poke-to-visible latency over ${edits} edits (write acked -> reader's pulled$), Node ${process.version}, loopback:`);
console.log(`  p50 ${at(0.5)} ms   p95 ${at(0.95)} ms   max ${at(1)} ms   (target p95 <= 100 ms; ${beforeAck} edits were visible before their ack arrived, counted as 0)`);
console.log('  reproduce: npx tsx bench/pokeLatency.ts --edits 200');
