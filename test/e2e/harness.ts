/**
 * End-to-end harness: the demo page (demo/) built with esbuild, served by the reference sync
 * server started in this process (port 0, in-memory SQLite), driven in Debian's Chromium with
 * playwright-core. Waits are on conditions only (page state, server endpoints), never on time.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { buildDemo } from '../../demo/build.js';
import type { Todo } from '../../demo/types.js';
import { startSyncServer, type SyncServer } from '../../server/index.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * `describe` for an e2e suite. Runs only under vitest.e2e.config.ts (`npm run test:e2e`).
 * Without Chromium the suite is skipped with a loud message, or fails when
 * RXSYNC_E2E=required (set it in CI so a missing browser cannot pass silently).
 */
export function describeE2E(name: string, body: () => void): void {
  if (process.env.RXSYNC_E2E_SUITE !== '1') {
    describe.skip(`${name} (end-to-end: run with npm run test:e2e)`, body);
    return;
  }
  if (!existsSync(CHROMIUM_PATH)) {
    const message =
      `[rxsync e2e] Chromium was not found at ${CHROMIUM_PATH}. ` +
      'Install Debian\'s chromium with: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH).';
    if (process.env.RXSYNC_E2E === 'required') {
      describe(name, () => {
        it('needs Chromium', () => {
          throw new Error(`${message} RXSYNC_E2E=required, so this is a failure, not a skip.`);
        });
      });
      return;
    }
    const bar = '!'.repeat(100);
    console.warn(`\n${bar}\n${message}\nSKIPPING the end-to-end suite "${name}". Set RXSYNC_E2E=required to make this a failure.\n${bar}\n`);
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}

/** One request the server answered, as its log line, with the time it was answered. */
export interface LoggedRequest {
  at: number;
  line: string;
}

export interface E2E {
  server: SyncServer;
  browser: Browser;
  /** Origin of the demo and the API, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request the server answered, in order (static files, API, admin). */
  requests: LoggedRequest[];
  /** Uncaught errors of every page opened with `open`. */
  pageErrors: string[];
  newContext(options?: Parameters<Browser['newContext']>[0]): Promise<BrowserContext>;
  /** Opens the demo with these query parameters and waits until it has loaded its outbox. */
  open(context: BrowserContext, query?: Record<string, string>): Promise<Page>;
  /** JSON from the server (admin endpoints), from Node, outside the browser. */
  get<T>(path: string): Promise<T>;
  send(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown>;
  close(): Promise<void>;
}

export async function startE2E(): Promise<E2E> {
  const built = await buildDemo();
  const requests: LoggedRequest[] = [];
  const pageErrors: string[] = [];
  const server = await startSyncServer({
    port: 0,
    db: ':memory:',
    staticDir: built.dir,
    admin: true,
    log: (line) => requests.push({ at: Date.now(), line }),
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const contexts: BrowserContext[] = [];

  const request = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
    return response.json();
  };

  return {
    server,
    browser,
    url: server.url,
    requests,
    pageErrors,
    async newContext(options) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, ...options });
      contexts.push(context);
      return context;
    },
    async open(context, query = {}) {
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(`${page.url()}: ${error.stack ?? error.message}`));
      await page.goto(`${server.url}/?${new URLSearchParams(query)}`);
      await waitForDemo(page);
      return page;
    },
    get: (path) => request('GET', path) as Promise<never>,
    send: (method, path, body) => request(method, path, body),
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await server.close();
      await rm(built.dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the page's demo has loaded (saved todos read, outbox loaded from IndexedDB). */
export async function waitForDemo(page: Page): Promise<void> {
  await page.waitForFunction(() => window.rxsyncDemo?.loaded === true);
}

/** Waits until the page's engine has an empty queue and no dead letters, and its last pull is in. */
export async function waitForDrained(page: Page, timeout = 30_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const status = window.rxsyncDemo!.engine.getStatus();
      return status.online && status.queueLength === 0 && status.inFlight === 0 && status.status === 'idle';
    },
    undefined,
    { timeout },
  );
}

/** Polls a condition on the server (an admin endpoint) until it holds. */
export async function until<T>(read: () => Promise<T>, holds: (value: T) => boolean, what: string, timeout = 30_000): Promise<T> {
  const deadline = Date.now() + timeout;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (holds(last)) return last;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeout} ms waiting for ${what}; last value: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A todo as the server holds it now (admin route GET /__records/todos), or undefined. */
export async function serverRecord(e2e: E2E, id: string): Promise<ServerRecord | undefined> {
  return (await e2e.get<ServerRecord[]>('/__records/todos')).find((r) => r.id === id);
}

/** The app fields of a todo (what the user edits), sorted by id, for comparing states. */
export function appState(todos: readonly Partial<Todo>[]): { id: string; title: string; done: boolean }[] {
  return todos
    .map((todo) => ({ id: String(todo.id), title: String(todo.title), done: todo.done === true }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** One applied write in the server's log (GET /__writes). */
export type { WriteLogEntry } from '../../server/index.js';

/** A record as GET /__records/{entity} lists it. */
export type ServerRecord = Todo & { version: number; updatedAt: string; deleted?: true };

/**
 * A reference server and Chromium for a suite whose pages run `source` (TypeScript bundled
 * from the repository root, so it may import `./src/index.ts`), each page in a browser context
 * of its own. `open(query)` resolves once the page's script has set `window[ready]`.
 */
export function scriptedPages(source: string, ready: string) {
  const suite = {} as { server: SyncServer; browser: Browser; script: string };
  beforeAll(async () => {
    suite.server = await startSyncServer({ admin: true, rateLimit: false });
    suite.browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    const bundle = await build({ stdin: { contents: source, resolveDir: process.cwd(), loader: 'ts' }, bundle: true, format: 'iife', platform: 'browser', write: false });
    suite.script = bundle.outputFiles[0].text;
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.server?.close();
  });
  return {
    server: (): SyncServer => suite.server,
    async open(query: string): Promise<Page> {
      const page = await (await suite.browser.newContext()).newPage();
      await page.goto(`${suite.server.url}/${query}`);
      await page.addScriptTag({ content: suite.script });
      await page.waitForFunction((name) => (window as unknown as Record<string, unknown>)[name] !== undefined, ready);
      return page;
    },
  };
}
