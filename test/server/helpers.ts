/** Shared helpers of the reference-server specs: a fresh server per test and a small JSON client. */
import { afterEach, beforeEach } from 'vitest';
import { startSyncServer, type StartSyncServerOptions, type SyncServer, type SyncStore } from '../../server/index.js';

export interface Answer<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

let storeFactory: (() => SyncStore) | undefined;

/**
 * Makes every server of `useServer`/`withServer` that names no `db` run on a store from
 * `factory` (the PostgreSQL suite: a fresh schema per server). Default: SQLite in memory.
 */
export function runOnStore(factory: () => SyncStore): void {
  storeFactory = factory;
}

/** The store the protocol specs run on in this file. */
export function storeKind(): 'sqlite' | 'postgres' {
  return storeFactory ? 'postgres' : 'sqlite';
}

function withStore(options: StartSyncServerOptions): StartSyncServerOptions {
  return options.db === undefined && storeFactory ? { ...options, db: storeFactory() } : options;
}

/**
 * Starts a fresh in-memory server on a random port before each test and closes it after.
 * The admin routes are on unless the options say `admin: false`.
 */
export function useServer(options: StartSyncServerOptions | (() => StartSyncServerOptions) = {}): { readonly server: SyncServer } {
  const fixture = {} as { server: SyncServer };
  beforeEach(async () => {
    fixture.server = await startSyncServer(withStore({ admin: true, ...(typeof options === 'function' ? options() : options) }));
  });
  afterEach(async () => {
    await fixture.server.close();
  });
  return fixture;
}

/** Runs `test` against a fresh server with these options and closes it afterwards. */
export async function withServer(options: StartSyncServerOptions, test: (server: SyncServer) => Promise<void>): Promise<void> {
  const server = await startSyncServer(withStore(options));
  try {
    await test(server);
  } finally {
    await server.close();
  }
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  raw?: string;
  headers?: Record<string, string>;
}

/** One request; the answer body is parsed as JSON when there is one. */
export async function call<T = any>(server: SyncServer, method: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  const hasBody = options.raw !== undefined || options.body !== undefined;
  const response = await fetch(server.url + path, {
    method,
    headers: { ...(hasBody ? { 'Content-Type': 'application/json' } : {}), ...options.headers },
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** A `random` that returns the given values in order and fails loudly when they run out. */
export function scripted(...values: number[]): () => number {
  const queue = [...values];
  return () => {
    const next = queue.shift();
    if (next === undefined) throw new Error('scripted random: no values left');
    return next;
  };
}

/** Pages through `GET /{entity}?since=` until hasMore is false; returns the pages. */
export async function pullAll(server: SyncServer, entity: string, since?: string, limit = 100) {
  const pages: { items: any[]; checkpoint: string; hasMore: boolean }[] = [];
  let checkpoint = since;
  for (;;) {
    const query = new URLSearchParams({ limit: String(limit), ...(checkpoint === undefined ? {} : { since: checkpoint }) });
    const { status, body } = await call(server, 'GET', `/${entity}?${query}`);
    if (status !== 200) throw new Error(`pull answered ${status}: ${JSON.stringify(body)}`);
    pages.push(body);
    checkpoint = body.checkpoint;
    if (!body.hasMore) return pages;
  }
}
