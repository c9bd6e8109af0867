/**
 * Read-your-writes in Chromium: two browser contexts, each an rxsync engine on the reference
 * server. B has a pending edit of a record (its push held on the way out); A edits the same
 * record and is acked; B is poked over `/_events` and pulls: B's `onPull` keeps showing B's
 * own value, marked pending, never A's older state. Once B's push lands, B shows its value
 * as synced.
 */
import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { openStreams } from '../server/eventStream.js';
import { describeE2E, scriptedPages, until } from './harness.js';

declare global {
  interface Window {
    rw?: {
      /** Every state of record "shared" onPull handed the app, as `title` or `title (pending)`. */
      shown: string[];
      /** Pulls done (each poke makes one). */
      pulls: number;
      /** Writes the record's title; resolves once the write is queued (and durable). */
      edit(title: string, create?: boolean): Promise<void>;
      /** Resolves once the server acked a push. */
      acked(): Promise<void>;
      /** Lets the pushes this page held go out. */
      releasePushes(): void;
    };
  }
}

/** The page's app: an engine pulled by pokes only; `?hold` holds its pushes until released. */
const PAGE = `
  import { filter, firstValueFrom, from, switchMap } from 'rxjs';
  import { createSyncEngine, eventSourcePoke, httpTransport, memoryStorage } from './src/index.ts';
  const hold = new URLSearchParams(location.search).has('hold');
  const http = httpTransport({ baseUrl: location.origin });
  let releasePushes = () => {};
  const released = hold ? new Promise((resolve) => (releasePushes = resolve)) : Promise.resolve();
  const rw = { shown: [], pulls: 0, releasePushes: () => releasePushes() };
  const engine = createSyncEngine({
    entities: { todos: { endpoint: '/todos' } },
    transport: { pull: (request) => http.pull(request), push: (request) => from(released).pipe(switchMap(() => http.push(request))) },
    storage: memoryStorage(),
    autoPull: false,
    poke$: eventSourcePoke(location.origin + '/_events'),
    onPull: (entity, items, { pending }) => {
      for (const item of items) if (item.id === 'shared') rw.shown.push(item.title + (pending.includes('shared') ? ' (pending)' : ''));
    },
  });
  engine.events$.subscribe((event) => { if (event.type === 'pulled') rw.pulls++; });
  rw.edit = async (title, create) => {
    await engine.write({ entity: 'todos', operation: create ? 'create' : 'update', data: { id: 'shared', title } });
  };
  rw.acked = () => firstValueFrom(engine.events$.pipe(filter((event) => event.type === 'pushed'))).then(() => undefined);
  window.rw = rw;
`;

describeE2E('read-your-writes (Chromium, two contexts)', () => {
  const pages = scriptedPages(PAGE, 'rw');
  const app = (query: string): Promise<Page> => pages.open(query);

  it("B's pending edit is never overwritten by A's older state; once pushed, B shows it as synced", async () => {
    const b = await app('?hold');
    const a = await app('');
    await until(() => openStreams(pages.server()), (open) => open === 2, 'both event streams');

    // A creates the record; the poke makes B pull it.
    await a.evaluate(() => Promise.all([window.rw!.acked(), window.rw!.edit('first', true)]));
    await b.waitForFunction(() => window.rw!.shown.includes('first'));

    // B edits it: the push is held, so the edit stays pending.
    await b.evaluate(() => window.rw!.edit('from B'));
    const pullsBefore = await b.evaluate(() => window.rw!.pulls);

    // A edits it too and is acked: B is poked, pulls "from A", and must keep showing its own edit.
    await a.evaluate(() => Promise.all([window.rw!.acked(), window.rw!.edit('from A')]));
    await b.waitForFunction((before) => window.rw!.pulls > before && window.rw!.shown.at(-1) !== 'first', pullsBefore);
    expect(await b.evaluate(() => window.rw!.shown)).toEqual(['first', 'from B (pending)']);

    // B's push lands: the server's answer is B's value, no longer pending (and the poke for it brings the same).
    await b.evaluate(() => Promise.all([window.rw!.acked(), window.rw!.releasePushes()]));
    await b.waitForFunction(() => window.rw!.shown.at(-1) === 'from B');
    const shown = await b.evaluate(() => window.rw!.shown);
    expect(shown.slice(0, 3)).toEqual(['first', 'from B (pending)', 'from B']);
    expect(shown.every((title) => title.startsWith('from B') || title === 'first')).toBe(true);
  });
});
