/**
 * The demo page as a user sees it: the list keeps its order when a todo is edited (in the page
 * that edits it and in a page that only pulls), and going offline says "offline" under the
 * fault switches instead of a red error about /__faults.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeE2E, startE2E, waitForDrained, type E2E } from './harness.js';

/** The ids of the list's rows, top to bottom, once they are `expected` (or the last seen on timeout). */
async function rowsBecome(page: Page, expected: string[]): Promise<string[]> {
  const read = (): Promise<string[]> => page.$$eval('#todos li.todo', (rows) => rows.map((row) => (row as HTMLElement).dataset.id ?? ''));
  await page
    .waitForFunction((ids) => [...document.querySelectorAll<HTMLElement>('#todos li.todo')].map((row) => row.dataset.id).join() === ids.join(), expected, { timeout: 10_000 })
    .catch(() => undefined);
  return read();
}

describeE2E('the demo page (Chromium)', () => {
  let e2e: E2E;
  beforeAll(async () => {
    e2e = await startE2E();
  });
  afterAll(async () => {
    await e2e?.close();
  });

  it('the list keeps its order when a todo is edited, here and in a page that pulls it', async () => {
    const page = await e2e.open(await e2e.newContext());
    for (const id of ['first', 'second', 'third']) await page.evaluate((id) => window.rxsyncDemo!.add(`todo ${id}`, id), id);
    await waitForDrained(page);
    expect(await rowsBecome(page, ['first', 'second', 'third'])).toEqual(['first', 'second', 'third']);

    // Editing the first todo makes it the newest change on the server (pulls answer in that order).
    await page.evaluate(() => window.rxsyncDemo!.rename('first', 'todo first, edited'));
    await page.evaluate(() => window.rxsyncDemo!.toggle('second'));
    await waitForDrained(page);
    expect(await rowsBecome(page, ['first', 'second', 'third'])).toEqual(['first', 'second', 'third']);

    // A page with empty storage learns the list from a pull, and shows it in the same order.
    const other = await e2e.open(await e2e.newContext());
    await other.waitForFunction(() => window.rxsyncDemo!.todos().length === 3);
    expect(await rowsBecome(other, ['first', 'second', 'third'])).toEqual(['first', 'second', 'third']);
    expect(e2e.pageErrors).toEqual([]);
  });

  it('offline, the fault switches say "offline", not an error', async () => {
    const context = await e2e.newContext();
    const page = await e2e.open(context);
    const note = page.locator('#faults-error');
    await context.setOffline(true);
    await page.waitForFunction(() => !window.rxsyncDemo!.engine.getStatus().online);
    await page.locator('#faults button[data-fault="failureRate"]').click();
    await expect.poll(() => note.textContent()).toMatch(/^Offline/);
    expect(await note.getAttribute('class')).toBe('muted');

    await context.setOffline(false);
    await expect.poll(() => note.textContent()).toBe('');
    expect(e2e.pageErrors).toEqual([]);
  });
});
