/**
 * Scenario 3: two pages (two browser contexts, each its own IndexedDB, like two devices) edit
 * the same todo. Page B edits a stale copy (its update carries the version it pulled, sent as
 * If-Match), the server answers 409 with its current record, and B's strategy decides. The
 * conflict shows on B's `conflicts$` and in its conflict panel; both pages end up showing the
 * server's state. The last case also takes the README's screenshot when RXSYNC_SCREENSHOT names
 * a file (`npm run screenshot` refreshes docs/demo.png); a plain test run writes nothing.
 */
import { resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ConflictStrategy } from '../../src/index.js';
import { describeE2E, serverRecord, startE2E, until, waitForDrained, type E2E, type ServerRecord, type WriteLogEntry } from './harness.js';

interface Case {
  strategy: ConflictStrategy;
  outcome: 'server-wins' | 'client-wins';
  /** Whose title the server keeps. */
  winner: 'A' | 'B';
}

const CASES: Case[] = [
  { strategy: 'server-wins', outcome: 'server-wins', winner: 'A' },
  { strategy: 'client-wins', outcome: 'client-wins', winner: 'B' },
  { strategy: 'last-write-wins', outcome: 'client-wins', winner: 'B' }, // B's edit is the newer one
  { strategy: 'manual', outcome: 'client-wins', winner: 'B' }, // the test clicks "Keep mine"
];

describeE2E('a conflict between two pages resolves per strategy and shows on conflicts$ (Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const record = (id: string): Promise<ServerRecord | undefined> => serverRecord(e2e, id);

  const titleOf = (page: Page, id: string) => page.evaluate((id) => window.rxsyncDemo!.todos().find((t) => t.id === id)?.title, id);

  /** A creates the todo; B opens afterwards and pulls it at version 1. */
  async function twoPages(strategy: ConflictStrategy, id: string, title: string, extra: string[] = []) {
    const contextA = await e2e.newContext();
    const contextB = await e2e.newContext();
    // The engine's own pulls would let B learn A's edit first: B must stay stale to conflict.
    const a = await e2e.open(contextA, { client: 'a', strategy, autoPull: 'off' });
    await a.evaluate(
      async ([id, title, extra]) => {
        for (const other of extra) await window.rxsyncDemo!.add(other);
        await window.rxsyncDemo!.add(title, id);
      },
      [id, title, extra] as const,
    );
    await waitForDrained(a);
    await until(() => record(id), (r) => r?.version === 1, `${id} on the server`);
    const b = await e2e.open(contextB, { client: 'b', strategy, autoPull: 'off' });
    await b.waitForFunction((id) => window.rxsyncDemo!.serverTodos().some((t) => t.id === id && t.version === 1), id);
    return { a, b, contextA, contextB };
  }

  async function conflictSeenBy(page: Page) {
    await page.waitForFunction(() => window.rxsyncDemo!.conflicts.length === 1);
    return page.evaluate(() => {
      const [conflict] = window.rxsyncDemo!.conflicts;
      return { resolution: conflict.resolution, remote: conflict.remoteData, local: conflict.localItem.data };
    });
  }

  async function closeAll(...contexts: BrowserContext[]) {
    for (const context of contexts) await context.close();
  }

  for (const { strategy, outcome, winner } of CASES) {
    it(`${strategy}: B's stale edit conflicts and ${winner === 'A' ? "the server's (A's) version" : "B's version"} is kept`, async () => {
      const id = `c-${strategy}`;
      const { a, b, contextA, contextB } = await twoPages(strategy, id, 'original');

      await a.evaluate((id) => window.rxsyncDemo!.rename(id, 'from A'), id);
      const afterA = await until(() => record(id), (r) => r?.version === 2, "A's edit on the server");
      // B's edit is made strictly after A's reached the server (same clock), so last-write-wins is decided, not a tie.
      await b.waitForFunction((t) => Date.now() > t, Date.parse(afterA!.updatedAt));
      await b.evaluate((id) => window.rxsyncDemo!.rename(id, 'from B'), id);

      if (strategy === 'manual') {
        // onConflict waits for the person: the panel asks, with both versions.
        const ask = b.locator(`li.conflict.ask[data-record="${id}"]`);
        await ask.waitFor();
        expect(await ask.textContent()).toContain('"title":"from A"');
        await ask.locator('button[data-decide="mine"]').click();
      }

      const conflict = await conflictSeenBy(b);
      expect(conflict.resolution).toMatchObject({ strategy, outcome });
      expect(conflict.local).toEqual({ id, title: 'from B', version: 1 }); // sent with If-Match: 1
      expect(conflict.remote).toMatchObject({ id, title: 'from A', version: 2 });
      await waitForDrained(b);

      const expectedTitle = winner === 'A' ? 'from A' : 'from B';
      const final = await record(id);
      expect(final).toMatchObject({ id, title: expectedTitle, done: false, version: winner === 'A' ? 2 : 3 });
      const writes = (await e2e.get<WriteLogEntry[]>('/__writes')).filter((w) => w.recordId === id);
      // B's PATCH was refused (409 stores nothing); client-wins re-sends it as a PUT under a derived key.
      expect(writes.map((w) => w.method)).toEqual(winner === 'A' ? ['POST', 'PATCH'] : ['POST', 'PATCH', 'PUT']);
      if (winner === 'B') expect(writes[2].idempotencyKey).toMatch(/:put$/);

      // The panel shows it, and both pages converge on the server's state.
      const row = b.locator(`li.conflict[data-record="${id}"][data-outcome="${outcome}"]`);
      await row.waitFor();
      expect(await row.locator('.strategy').textContent()).toBe(strategy);
      expect(await b.locator('[data-stat="conflicts"] .value').textContent()).toBe('1');
      await b.waitForFunction(([id, title]) => window.rxsyncDemo!.todos().find((t) => t.id === id)?.title === title, [id, expectedTitle] as const);
      await a.click('#sync-now');
      await a.waitForFunction(([id, title]) => window.rxsyncDemo!.todos().find((t) => t.id === id)?.title === title, [id, expectedTitle] as const);
      expect(await titleOf(a, id)).toBe(expectedTitle);
      await closeAll(contextA, contextB);
    });
  }

  it('last-write-wins: an older offline edit loses to a newer one (and the screenshot)', async () => {
    const id = 'plants';
    await e2e.send('POST', '/__reset'); // a clean list for the screenshot
    const { a, b, contextA, contextB } = await twoPages('last-write-wins', id, 'Water the plants', ['Buy oat milk', 'Book the dentist', 'Renew the library card']);

    // B goes offline and edits first...
    await contextB.setOffline(true);
    await b.waitForFunction(() => !window.rxsyncDemo!.engine.getStatus().online);
    await b.evaluate((id) => window.rxsyncDemo!.rename(id, 'Water the plants (B, offline)'), id);
    const bWrittenAt = await b.evaluate(() => Date.parse(window.rxsyncDemo!.queue()[0].timestamp));
    // ...A edits later, online.
    await a.waitForFunction((t) => Date.now() > t, bWrittenAt);
    await a.evaluate((id) => window.rxsyncDemo!.rename(id, 'Water the plants and the herbs (A)'), id);
    await until(() => record(id), (r) => r?.version === 2, "A's edit on the server");

    await contextB.setOffline(false);
    const conflict = await conflictSeenBy(b);
    expect(conflict.resolution).toEqual({ strategy: 'last-write-wins', outcome: 'server-wins' });
    await waitForDrained(b);
    expect(await record(id)).toMatchObject({ title: 'Water the plants and the herbs (A)', version: 2 });
    await b.waitForFunction((id) => window.rxsyncDemo!.todos().find((t) => t.id === id)?.title === 'Water the plants and the herbs (A)', id);
    await b.locator(`li.conflict[data-record="${id}"][data-outcome="server-wins"]`).waitFor();

    // Mid-run for the screenshot: B offline again with a few writes queued.
    await contextB.setOffline(true);
    await b.waitForFunction(() => !window.rxsyncDemo!.engine.getStatus().online);
    await b.evaluate(async () => {
      const demo = window.rxsyncDemo!;
      const milk = demo.todos().find((t) => t.title === 'Buy oat milk')!;
      await demo.toggle(milk.id);
      await demo.add('Call the plumber');
      await demo.rename(demo.todos().find((t) => t.title === 'Book the dentist')!.id, 'Book the dentist for Tuesday');
    });
    await b.waitForFunction(() => document.querySelectorAll('#queue li.item').length === 3 && document.querySelectorAll('li.todo.pending').length === 3);
    const screenshot = process.env.RXSYNC_SCREENSHOT;
    if (screenshot) await b.screenshot({ path: resolve(screenshot), fullPage: true });

    await contextB.setOffline(false);
    await waitForDrained(b);
    expect((await e2e.get<ServerRecord[]>('/__records/todos')).find((r) => r.title === 'Call the plumber')).toBeDefined();
    expect(e2e.pageErrors).toEqual([]);
    await closeAll(contextA, contextB);
  });
});
