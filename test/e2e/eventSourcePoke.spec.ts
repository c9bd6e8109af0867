/**
 * eventSourcePoke in Chromium, on the browser's own EventSource: a write made in one browser
 * context reaches the stream of another, and leaving the page's subscription closes the
 * connection. (The engine's `poke$` wiring is not exercised here.)
 */
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSyncServer, type SyncServer } from '../../server/index.js';
import { openStreams } from '../server/eventStream.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, describeE2E, until } from './harness.js';

declare global {
  interface Window {
    pokeTest?: { pokes: string[]; stop(): void };
  }
}

describeE2E('eventSourcePoke in Chromium', () => {
  let server: SyncServer;
  let browser: Browser;
  let script: string;

  beforeAll(async () => {
    server = await startSyncServer({ admin: true });
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const bundle = await build({
      stdin: {
        contents: `
          import { eventSourcePoke } from './src/index.ts';
          const pokes = [];
          const subscription = eventSourcePoke(location.origin + '/_events').subscribe((checkpoint) => pokes.push(checkpoint));
          window.pokeTest = { pokes, stop: () => subscription.unsubscribe() };
        `,
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      write: false,
    });
    script = bundle.outputFiles[0].text;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const streams = () => openStreams(server);

  async function listen(): Promise<Page> {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/`);
    await page.addScriptTag({ content: script });
    return page;
  }

  it("pokes B's stream when A writes, and closes it when B unsubscribes", async () => {
    expect(script).not.toMatch(/createParser|eventsource-parser/);
    const reader = await listen();
    await until(streams, (open) => open === 1, 'the page’s event stream on the server');

    const writer = await (await browser.newContext()).newPage();
    await writer.goto(`${server.url}/`);
    const status = await writer.evaluate(async () => (await fetch('/todos/a', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{"title":"from A"}' })).status);
    expect(status).toBe(200);
    await reader.waitForFunction(() => window.pokeTest!.pokes.join() === '1');

    await reader.evaluate(() => window.pokeTest!.stop());
    await until(streams, (open) => open === 0, 'the server to see the stream closed');
  });
});
