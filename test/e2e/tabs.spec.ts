/**
 * Tabs of one browser sharing one outbox (same `?client=`, so the same IndexedDB database):
 * one tab leads and sends for all; when it is closed or frozen, another takes over and every
 * write still lands exactly once. Also prints the hand-over time and the follower's write
 * latency next to the leader's (figures only; nothing here asserts a time).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeE2E, startE2E, until, waitForDemo, type E2E, type ServerRecord, type WriteLogEntry } from './harness.js';

const leads = (page: Page) => page.evaluate(() => window.rxsyncDemo!.engine.getStatus().leader);
const queued = (page: Page) => page.evaluate(() => window.rxsyncDemo!.queue().map((item) => (item.data as { id: string }).id));
const writeMany = (page: Page, prefix: string, count: number) =>
  page.evaluate(
    ([prefix, count]) => Promise.all(Array.from({ length: count }, (_, n) => window.rxsyncDemo!.add(`${prefix} ${n}`, `${prefix}-${n}`))),
    [prefix, count] as const,
  );
const waitForIdle = (page: Page) =>
  page.waitForFunction(() => {
    const status = window.rxsyncDemo!.engine.getStatus();
    return status.status === 'idle' && status.queueLength === 0;
  }, undefined, { timeout: 60_000 }).catch(async (error: unknown) => {
    const seen = await page.evaluate(() => [window.rxsyncDemo!.engine.getStatus(), window.rxsyncDemo!.events.slice(-5).map((e) => e.type)]);
    throw new Error(`${String(error)}; the tab's status and last events: ${JSON.stringify(seen)}`);
  });

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)];

describeE2E('tabs of one browser share one outbox (Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  async function openTabs(client: string, count: number): Promise<Page[]> {
    const context = await e2e.newContext();
    const query = { client, maxRetries: '1000', retryBaseDelayMs: '20', retryMaxDelayMs: '200' };
    const pages: Page[] = [];
    for (let n = 0; n < count; n++) pages.push(await e2e.open(context, query));
    return pages;
  }

  async function expectEachOnce(prefixes: string[], perTab: number): Promise<void> {
    const expected = prefixes.flatMap((prefix) => Array.from({ length: perTab }, (_, n) => `${prefix}-${n}`)).sort();
    const records = await until(
      () => e2e.get<ServerRecord[]>('/__records/todos'),
      (all) => all.filter((r) => prefixes.some((prefix) => r.id.startsWith(`${prefix}-`))).length >= expected.length,
      `${expected.length} todos on the server`,
      60_000,
    );
    expect(records.map((r) => r.id).filter((id) => prefixes.some((prefix) => id.startsWith(`${prefix}-`))).sort()).toEqual(expected);
    const writes = (await e2e.get<WriteLogEntry[]>('/__writes')).filter((w) => prefixes.some((prefix) => w.recordId.startsWith(`${prefix}-`)));
    expect(writes.map((w) => w.recordId).sort()).toEqual(expected);
  }

  it('3 tabs write 300 todos at once; the leader is closed in the middle of the flush; each lands once and every tab shows the same queue, then idle', async () => {
    const pages = await openTabs('three', 3);
    const roles = await Promise.all(pages.map(leads));
    expect(roles.filter((role) => role === true)).toHaveLength(1);
    expect(roles.filter((role) => role === false)).toHaveLength(2);
    const leader = pages[roles.indexOf(true)];
    const followers = pages.filter((page) => page !== leader);

    // Slow answers, so the flush is still under way when the leader goes.
    await e2e.send('POST', '/__faults', { latencyMs: 30 });
    const written = pages.map((page, n) => writeMany(page, `t${n}`, 100));
    await written[pages.indexOf(leader)];
    await until(() => e2e.get<WriteLogEntry[]>('/__writes'), (writes) => writes.length > 0, 'the flush to start');
    await leader.close();

    // The followers' writes resolve (durable at whichever tab led), one of them takes over.
    await Promise.all(written.filter((_, n) => pages[n] !== leader));
    await followers[0].waitForFunction(() => window.rxsyncDemo!.engine.getStatus().leader !== undefined);
    await until(async () => (await Promise.all(followers.map(leads))).filter(Boolean).length, (count) => count === 1, 'one new leader');
    // While it drains, both tabs show the same queue.
    await until(
      () => Promise.all(followers.map(queued)),
      ([a, b]) => a.length > 0 && JSON.stringify(a) === JSON.stringify(b),
      'the same non-empty queue in both tabs',
    );
    await e2e.send('DELETE', '/__faults');
    await Promise.all(followers.map(waitForIdle));
    await expectEachOnce(['t0', 't1', 't2'], 100);
    expect(e2e.pageErrors).toEqual([]);
  });

  // Frozen with the debugger paused: headless Chromium's `Page.setWebLifecycleState: frozen` still
  // delivers BroadcastChannel messages to a visible page, while a paused page runs no script at
  // all, as a frozen tab; its Web Lock stays held.
  it('a frozen leader (its script paused over CDP): another tab takes over within about a second, and each write lands once', async () => {
    const [first, second] = await openTabs('frozen', 2);
    expect(await leads(first)).toBe(true);
    await writeMany(first, 'f0', 20);
    // Paused while idle: a page paused inside an IndexedDB transaction would block the database
    // for every tab until Chromium times the transaction out (60 s).
    await waitForIdle(first);
    const cdp = await first.context().newCDPSession(first);
    await cdp.send('Debugger.enable');
    await cdp.send('Debugger.pause');
    const start = Date.now();
    // The follower's write gets no acknowledgement from the frozen tab: it takes the lead.
    await writeMany(second, 'f1', 20);
    const tookOverMs = Date.now() - start;
    expect(await leads(second)).toBe(true);
    // Thawed, the old leader follows and shows the shared outbox; both end idle.
    await cdp.send('Debugger.resume');
    await first.waitForFunction(() => window.rxsyncDemo!.engine.getStatus().leader === false);
    await Promise.all([first, second].map(waitForIdle));
    await expectEachOnce(['f0', 'f1'], 20);
    console.log(`[rxsync tabs] take-over from a frozen leader: ${tookOverMs} ms (write in the follower to durable at the new leader)`);
    expect(e2e.pageErrors).toEqual([]);
  });

  it('figures: hand-over after the leader tab closes (20 times), follower vs leader write() latency in a burst of 1,000', async () => {
    const context = await e2e.newContext();
    const query = { client: 'handover' };
    let pages = [await e2e.open(context, query), await e2e.open(context, query)];
    const handovers: number[] = [];
    for (let n = 0; n < 20; n++) {
      const leader = (await leads(pages[0])) ? pages[0] : pages[1];
      const follower = pages.find((page) => page !== leader)!;
      const armed = follower.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const subscription = window.rxsyncDemo!.engine.status$.subscribe((status) => {
              if (status.leader !== true) return;
              queueMicrotask(() => subscription.unsubscribe());
              resolve(performance.timeOrigin + performance.now());
            });
          }),
      );
      const closedAt = Date.now();
      await leader.close();
      handovers.push((await armed) - closedAt);
      const next = await context.newPage();
      await next.goto(follower.url());
      await waitForDemo(next);
      pages = [follower, next];
    }
    const [leader, follower] = (await leads(pages[0])) ? pages : [pages[1], pages[0]];
    // Offline, so the figure is the outbox's alone (queued and stored), not the demo page's work per push.
    await context.setOffline(true);
    await Promise.all([leader, follower].map((page) => page.waitForFunction(() => !window.rxsyncDemo!.engine.getStatus().online)));
    const burst = (page: Page, prefix: string) =>
      page.evaluate(async (prefix) => {
        const times: number[] = [];
        await Promise.all(
          Array.from({ length: 1000 }, async (_, n) => {
            const start = performance.now();
            await window.rxsyncDemo!.add(`${prefix} ${n}`, `${prefix}-${n}`);
            times.push(performance.now() - start);
          }),
        );
        return times;
      }, prefix);
    const leaderTimes = await burst(leader, 'bl');
    const followerTimes = await burst(follower, 'bf');
    await follower.waitForFunction(() => window.rxsyncDemo!.engine.getQueueLength() === 2000);
    const p = (values: number[]) => `p50 ${percentile(values, 50).toFixed(1)} ms, p95 ${percentile(values, 95).toFixed(1)} ms`;
    console.log(
      [
        `[rxsync tabs] hand-over after the leader tab closes (20): ${p(handovers)}, max ${Math.max(...handovers).toFixed(0)} ms`,
        `[rxsync tabs] write() to durable in a burst of 1,000 (offline) — leader: ${p(leaderTimes)}; follower: ${p(followerTimes)}`,
        '[rxsync tabs] reproduce: npm run test:e2e -- test/e2e/tabs.spec.ts',
      ].join('\n'),
    );
    await follower.evaluate(() => window.rxsyncDemo!.engine.clearQueue());
    await leader.waitForFunction(() => window.rxsyncDemo!.engine.getQueueLength() === 0);
    expect(handovers).toHaveLength(20);
    expect(e2e.pageErrors).toEqual([]);
  });
});
