/**
 * Live pull in Chromium: two browser contexts, each an rxsync engine. A's edits reach B's
 * `pulled$` with no call to `pull()`: B's only pull trigger is `poke$: eventSourcePoke(…/_events)`
 * (`autoPull: false`). Also prints the poke-to-visible latency (A's write acked → B's `pulled$`),
 * p50/p95 over the edits; the figure is printed, not asserted.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { openStreams } from '../server/eventStream.js';
import { describeE2E, scriptedPages, until } from './harness.js';

declare global {
  interface Window {
    live?: {
      /** Wall-clock time (ms, sub-ms precision) each value of `n` first arrived in `pulled$`. */
      seen: Record<number, number>;
      /** Edits the record and resolves with the time the server acked that write. */
      edit(n: number): Promise<number>;
      pulls: number;
    };
  }
}

const EDITS = Number(process.env.RXSYNC_LIVE_EDITS ?? 200);

/** The page's app: an engine that pulls only when poked (`?listen`), or only writes. */
const PAGE = `
  import { filter, firstValueFrom } from 'rxjs';
  import { createSyncEngine, eventSourcePoke, httpTransport, memoryStorage } from './src/index.ts';
  const listen = new URLSearchParams(location.search).has('listen');
  const engine = createSyncEngine({
    entities: { todos: { endpoint: '/todos' } },
    transport: httpTransport({ baseUrl: location.origin }),
    storage: memoryStorage(),
    autoPull: false,
    poke$: listen ? eventSourcePoke(location.origin + '/_events') : undefined,
  });
  const clock = () => performance.timeOrigin + performance.now();
  const live = { seen: {}, pulls: 0 };
  engine.events$.subscribe((event) => { if (event.type === 'pulled') live.pulls++; });
  engine.pulled$.subscribe(({ items }) => {
    const at = clock();
    for (const item of items) if (typeof item.n === 'number' && !(item.n in live.seen)) live.seen[item.n] = at;
  });
  live.edit = async (n) => {
    const item = await engine.write({ entity: 'todos', operation: n === 0 ? 'create' : 'update', data: { id: 'shared', n } });
    await firstValueFrom(engine.events$.pipe(filter((event) => event.type === 'pushed' && event.item.id === item.id)));
    return clock();
  };
  window.live = live;
`;

describeE2E('live pull through /_events (Chromium, two contexts)', () => {
  const pages = scriptedPages(PAGE, 'live');
  const app = (query: string): Promise<Page> => pages.open(query);

  it("A's edits appear in B's pulled$ without any call to pull(); latency printed", async () => {
    const b = await app('?listen');
    const a = await app('');
    await until(() => openStreams(pages.server()), (open) => open === 1, "B's event stream");

    const latencies: number[] = [];
    for (let n = 0; n < EDITS; n++) {
      const ackedAt = await a.evaluate((n) => window.live!.edit(n), n);
      await b.waitForFunction((n) => n in window.live!.seen, n);
      const seenAt = await b.evaluate((n) => window.live!.seen[n], n);
      latencies.push(Math.max(0, seenAt - ackedAt));
    }
    // Only pokes made B pull, and no more than once per edit.
    const pulls = await b.evaluate(() => window.live!.pulls);
    expect(pulls).toBeGreaterThanOrEqual(1);
    expect(pulls).toBeLessThanOrEqual(EDITS);
    expect(await a.evaluate(() => window.live!.pulls)).toBe(0);

    latencies.sort((x, y) => x - y);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)].toFixed(1);
    console.log(
      `[rxsync e2e] poke-to-visible in Chromium over ${EDITS} edits (A's write acked -> B's pulled$): p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms` +
        ' — reproduce: npx vitest run --config vitest.e2e.config.ts test/e2e/livePull.spec.ts',
    );
  });
});
