/**
 * The README's "open a second tab and edit the same todo" flow, as a user does it: two tabs of
 * ONE browser (one context, so they share Web Locks and the origin's IndexedDB). Each tab has
 * its own outbox (each opens the demo with its own `?client=`), so neither may wait for the other: the
 * second tab loads, both tabs' edits of the same todo reach the server, and the stale one comes
 * back as a conflict that the strategy resolves. (Separate contexts, as in conflicts.spec.ts,
 * cannot show a lock shared by mistake between the tabs.)
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeE2E, serverRecord, startE2E, until, waitForDrained, type E2E, type ServerRecord, type WriteLogEntry } from './harness.js';

describeE2E('two tabs of one browser edit the same todo (Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  const record = (id: string): Promise<ServerRecord | undefined> => serverRecord(e2e, id);

  it('both tabs work at once; both edits land and the conflict resolves (client-wins)', async () => {
    const context = await e2e.newContext();
    const id = 'shared';
    // No pulls by themselves: the second tab must stay on version 1 to make a stale edit.
    const first = await e2e.open(context, { strategy: 'client-wins', client: 'first', autoPull: 'off' });
    await first.evaluate((id) => window.rxsyncDemo!.add('Water the plants', id), id);
    await waitForDrained(first);
    await until(() => record(id), (r) => r?.version === 1, 'the todo on the server');

    // The second tab of the same browser, while the first stays open.
    const second = await e2e.open(context, { strategy: 'client-wins', client: 'second', autoPull: 'off' });
    expect(await second.evaluate(() => window.rxsyncDemo!.client)).not.toBe(await first.evaluate(() => window.rxsyncDemo!.client));
    await second.waitForFunction((id) => window.rxsyncDemo!.serverTodos().some((t) => t.id === id && t.version === 1), id);

    // The first tab's edit lands; the second tab's edit, based on version 1, is now stale.
    await first.evaluate((id) => window.rxsyncDemo!.rename(id, 'Water the plants (first tab)'), id);
    await until(() => record(id), (r) => r?.version === 2, "the first tab's edit on the server");
    await second.evaluate((id) => window.rxsyncDemo!.rename(id, 'Water the plants (second tab)'), id);

    await second.waitForFunction(() => window.rxsyncDemo!.conflicts.length === 1);
    const resolution = await second.evaluate(() => window.rxsyncDemo!.conflicts[0]!.resolution);
    expect(resolution).toMatchObject({ strategy: 'client-wins', outcome: 'client-wins' });
    await waitForDrained(second);

    expect(await record(id)).toMatchObject({ title: 'Water the plants (second tab)', version: 3 });
    const writes = (await e2e.get<WriteLogEntry[]>('/__writes')).filter((write) => write.recordId === id);
    expect(writes.map((write) => write.method)).toEqual(['POST', 'PATCH', 'PUT']);

    // Both tabs end up showing the server's state.
    await first.click('#sync-now');
    for (const page of [first, second]) {
      await page.waitForFunction(
        (id) => window.rxsyncDemo!.todos().find((t) => t.id === id)?.title === 'Water the plants (second tab)',
        id,
      );
    }
    expect(e2e.pageErrors).toEqual([]);
  });
});
