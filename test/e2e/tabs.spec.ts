/**
 * Two tabs on one outbox (same storage): the second engine must not interleave its log with
 * the first one's, which would lose writes. It waits for the first tab's Web Lock, says so,
 * and takes over the whole outbox once that tab is closed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeE2E, startE2E, until, waitForDemo, waitForDrained, type E2E, type ServerRecord, type WriteLogEntry } from './harness.js';

describeE2E('two tabs on one outbox take turns instead of losing writes (Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('the second tab waits for the first, then delivers both tabs\' writes exactly once', async () => {
    const context = await e2e.newContext();
    const query = { client: 'shared', maxRetries: '1000', retryBaseDelayMs: '20', retryMaxDelayMs: '100' };
    const first = await e2e.open(context, query);
    // The server refuses every write for now, so the writes stay in the outbox.
    await e2e.send('POST', '/__faults', { failureRate: 1 });
    await first.evaluate(() => window.rxsyncDemo!.add('from the first tab', 'tab-one'));

    const second = await context.newPage();
    await second.goto(first.url());
    await second.waitForFunction(() => /Another tab or engine is using the outbox/.test(window.rxsyncDemo?.engine.getStatus().lastError ?? ''));
    // Its write is accepted but waits, with the whole engine, for the outbox.
    const written = second.evaluate(() => window.rxsyncDemo!.add('from the second tab', 'tab-two'));
    expect(await second.evaluate(() => window.rxsyncDemo!.loaded)).toBe(false);

    await first.close();
    await waitForDemo(second);
    await written;
    expect(await second.evaluate(() => window.rxsyncDemo!.queue().map((item) => (item.data as { id: string }).id))).toEqual(['tab-one', 'tab-two']);

    await e2e.send('DELETE', '/__faults');
    await waitForDrained(second);
    const records = await until(
      () => e2e.get<ServerRecord[]>('/__records/todos'),
      (all) => all.length === 2,
      'both todos on the server',
    );
    expect(records.map((r) => r.id).sort()).toEqual(['tab-one', 'tab-two']);
    const writes = await e2e.get<WriteLogEntry[]>('/__writes');
    expect(writes.map((w) => w.recordId).sort()).toEqual(['tab-one', 'tab-two']);
    expect(e2e.pageErrors).toEqual([]);
  });
});
