/**
 * Scenario 2: with 30% of requests answered 503 (nothing applied) and 30% of the applied ones
 * answered by a dropped connection (applied, but the browser sees a network error), 200 writes
 * from the page end up on the server exactly once each: the retries of a dropped answer carry
 * the same Idempotency-Key and are answered from the server's idempotency store.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { appState, describeE2E, startE2E, waitForDrained, type E2E, type ServerRecord, type WriteLogEntry } from './harness.js';

interface Stats {
  writes: number;
  idempotentReplays: number;
  faults: { failed: number; dropped: number };
}

const COUNT = 200;
const ids = Array.from({ length: COUNT }, (_, i) => `f${String(i).padStart(3, '0')}`);

describeE2E('200 writes through injected 503s and dropped answers land exactly once (Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('every write is applied once, none is lost or dead-lettered', async () => {
    const context = await e2e.newContext();
    // Fast backoff and enough retries that a 51% per-attempt failure cannot exhaust them
    // (0.51^41 ≈ 1e-12 per item): the test is about exactly-once, not about giving up.
    const page = await e2e.open(context, { client: 'faults', maxRetries: '40', retryBaseDelayMs: '10', retryMaxDelayMs: '100' });
    await waitForDrained(page);

    // Through the page's own fault buttons (POST /__faults), as a person would.
    await page.click('button[data-fault="failureRate"]');
    await page.click('button[data-fault="dropResponseRate"]');
    await page.waitForSelector('button[data-fault="dropResponseRate"][aria-pressed="true"]');
    expect(await e2e.get('/__faults')).toMatchObject({ failureRate: 0.3, dropResponseRate: 0.3, latencyMs: 0 });

    const started = Date.now();
    const items = await page.evaluate(async (all) => {
      const demo = window.rxsyncDemo!;
      await Promise.all(all.map((id) => demo.add(`task ${id}`, id)));
      return demo.queue().map((item) => item.id);
    }, ids);
    expect(items.length).toBeGreaterThan(0);
    await waitForDrained(page, 60_000);
    const drainedMs = Date.now() - started;

    const status = await page.evaluate(() => window.rxsyncDemo!.engine.getStatus());
    expect(status).toMatchObject({ queueLength: 0, failedCount: 0 });
    const stats = await e2e.get<Stats>('/__stats');
    await page.click('button.fault.reset');
    await page.waitForSelector('button[data-fault="failureRate"][aria-pressed="false"]');

    // The faults really happened, and dropped answers really were retried into the idempotency store.
    expect(stats.faults.failed).toBeGreaterThan(0);
    expect(stats.faults.dropped).toBeGreaterThan(0);
    expect(stats.idempotentReplays).toBeGreaterThan(0);
    const retried = await page.evaluate(() => window.rxsyncDemo!.events.filter((event) => event.type === 'retried').length);
    expect(retried).toBeGreaterThan(0);
    console.info(
      `[e2e] ${COUNT} writes drained in ${drainedMs} ms: ${stats.faults.failed} injected 503s, ${stats.faults.dropped} dropped answers, ` +
        `${retried} retries, ${stats.idempotentReplays} idempotent replays`,
    );

    // Exactly once: 200 records, 200 applied writes, one per idempotency key, one per record.
    const records = await e2e.get<ServerRecord[]>('/__records/todos');
    expect(appState(records)).toEqual(ids.map((id) => ({ id, title: `task ${id}`, done: false })));
    expect(records.every((record) => record.version === 1)).toBe(true);
    const writes = await e2e.get<WriteLogEntry[]>('/__writes');
    expect(writes).toHaveLength(COUNT);
    expect(new Set(writes.map((write) => write.idempotencyKey)).size).toBe(COUNT);
    expect(writes.map((write) => write.recordId).sort()).toEqual(ids);
    expect(writes.every((write) => write.method === 'POST')).toBe(true);
    const pushed = await page.evaluate(() =>
      window.rxsyncDemo!.events.flatMap((event) => (event.type === 'pushed' ? [event.item.id] : [])),
    );
    expect(new Set(pushed).size).toBe(COUNT);
    expect(writes.map((write) => write.idempotencyKey).sort()).toEqual([...new Set(pushed)].sort());

    // With the faults off, "Sync now" brings the page's list in line with the server.
    await page.click('#sync-now');
    await page.waitForFunction((n) => document.querySelectorAll('li.todo:not(.pending)').length === n && window.rxsyncDemo!.serverTodos().every((todo) => todo.version === 1), COUNT);
    expect(appState(await page.evaluate(() => window.rxsyncDemo!.todos()))).toEqual(appState(records));
    expect(e2e.pageErrors).toEqual([]);
  });
});
