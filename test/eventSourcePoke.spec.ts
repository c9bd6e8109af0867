/**
 * eventSourcePoke against the real reference server in Node 20 (no global EventSource: the
 * `eventsource` package is loaded), and its reconnection backoff in virtual time.
 */
import type { Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startSyncServer, type StartSyncServerOptions, type SyncServer } from '../server/index.js';
import { eventSourcePoke, SyncOptionsError, type EventSourceInit } from '../src/index.js';
import { openStreams as streamsOn } from './server/eventStream.js';
import { SLOW_TEST_MS } from './support/slowTest.js';

const servers: SyncServer[] = [];
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function server(options: StartSyncServerOptions = {}): Promise<SyncServer> {
  const started = await startSyncServer({ admin: true, events: { retryMs: 20 }, ...options });
  servers.push(started);
  return started;
}

/** Open streams on the server (the token passes the `authorize` hook some tests set). */
const openStreams = (on: SyncServer) => streamsOn(on, { Authorization: 'Bearer ok' });

function collect(url: string, options?: Parameters<typeof eventSourcePoke>[1]): string[] {
  const pokes: string[] = [];
  subscriptions.push(eventSourcePoke(url, options).subscribe((checkpoint) => pokes.push(checkpoint)));
  return pokes;
}

const put = (on: SyncServer, id: string) => fetch(`${on.url}/todos/${id}`, { method: 'PUT', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ok' }, body: '{}' });

describe('eventSourcePoke against the reference server', () => {
  it('emits the checkpoint of each write on the server', async () => {
    const api = await server();
    const pokes = collect(`${api.url}/_events`);
    await vi.waitFor(async () => expect(await openStreams(api)).toBe(1));
    await put(api, 'a');
    await vi.waitFor(() => expect(pokes).toEqual(['1']));
    await put(api, 'b');
    await vi.waitFor(() => expect(pokes).toEqual(['1', '2']));
  }, SLOW_TEST_MS);

  it('closes the connection on unsubscribe (the server sees it)', async () => {
    const api = await server();
    collect(`${api.url}/_events`);
    await vi.waitFor(async () => expect(await openStreams(api)).toBe(1));
    subscriptions.pop()!.unsubscribe();
    await vi.waitFor(async () => expect(await openStreams(api)).toBe(0));
  });

  it('survives a server restart: it reconnects, is poked for what it may have missed, and emits new writes', async () => {
    const first = await server();
    const pokes = collect(`${first.url}/_events`);
    await vi.waitFor(async () => expect(await openStreams(first)).toBe(1));
    await put(first, 'a');
    await vi.waitFor(() => expect(pokes).toEqual(['1']));

    await first.close();
    // A fresh database: its position (0) is not the last one seen, so the server pokes at once.
    const second = await server({ port: first.port });
    await vi.waitFor(() => expect(pokes).toEqual(['1', '0']));
    await put(second, 'b');
    await vi.waitFor(() => expect(pokes).toEqual(['1', '0', '1']));
  }, SLOW_TEST_MS);

  it('opens a stream the server closed for good (401) again after a backoff, with its headers and the last event id', async () => {
    const first = await server();
    let token = 'ok';
    const pokes = collect(`${first.url}/_events`, { headers: () => ({ Authorization: `Bearer ${token}` }), reconnectBaseDelayMs: 10 });
    await vi.waitFor(async () => expect(await openStreams(first)).toBe(1));
    await put(first, 'a');
    await vi.waitFor(() => expect(pokes).toEqual(['1']));

    await first.close();
    const refused: string[] = [];
    const second = await server({
      port: first.port,
      authorize: (request) => {
        if (request.headers.authorization === 'Bearer ok') return { principal: 'ann' };
        refused.push(request.url ?? '');
        token = 'ok';
        return { reject: 401 };
      },
    });
    token = 'expired';
    // The EventSource gives up on the 401; the source opens it again with the fresh token.
    await vi.waitFor(() => expect(pokes).toEqual(['1', '0']));
    expect(refused).toEqual(['/_events']);
    await put(second, 'b');
    await vi.waitFor(() => expect(pokes).toEqual(['1', '0', '1']));
  }, SLOW_TEST_MS);

  it('refuses a URL or delay it cannot use', () => {
    expect(() => eventSourcePoke('ftp://example.com/_events')).toThrow(SyncOptionsError);
    expect(() => eventSourcePoke('not a url')).toThrow(/\[rxsync\] eventSourcePoke needs an absolute http\(s\) URL/);
    expect(() => eventSourcePoke('http://127.0.0.1/_events', { reconnectBaseDelayMs: -1 })).toThrow(/reconnectBaseDelayMs/);
  });
});

describe('eventSourcePoke reconnection (virtual time)', () => {
  type Listener = (event: { data?: unknown; lastEventId?: string }) => void;
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

  /** An EventSource the test scripts: each instance is one connection attempt, `script[n]` says what attempt n does. */
  class ScriptedEventSource {
    static attempts: ScriptedEventSource[] = [];
    static script: ((source: ScriptedEventSource) => void)[] = [];
    readyState = 0;
    closedByClient = false;
    readonly at = scheduler.now();
    private readonly listeners = new Map<string, Listener[]>();
    constructor(
      readonly url: string,
      readonly init?: EventSourceInit,
    ) {
      const step = ScriptedEventSource.script[ScriptedEventSource.attempts.length];
      ScriptedEventSource.attempts.push(this);
      // After the caller attached its listeners, at the same virtual time.
      if (step) scheduler.schedule(() => step(this));
    }
    addEventListener(type: string, listener: Listener): void {
      this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
    }
    emit(type: string, event: { data?: unknown; lastEventId?: string } = {}): void {
      if (type === 'open') this.readyState = 1;
      if (type === 'error') this.readyState = 2;
      for (const listener of this.listeners.get(type) ?? []) listener(event);
    }
    close(): void {
      this.readyState = 2;
      this.closedByClient = true;
    }
  }

  it('opens a stream closed for good again after 1 s, 2 s, 4 s (+ up to 20 % jitter), from 1 s again once it was open; passes on only well-formed pokes', () => {
    const failing = (source: ScriptedEventSource) => source.emit('error');
    ScriptedEventSource.attempts = [];
    ScriptedEventSource.script = [
      (source) => {
        source.emit('open');
        source.emit('poke', { data: '7', lastEventId: '7' });
        source.emit('poke', { data: 42 });
        source.emit('poke', { data: '' });
        source.emit('error');
      },
      failing,
      failing,
      (source) => {
        source.emit('open');
        source.emit('error');
      },
    ];
    const pokes: string[] = [];
    scheduler.run(({ flush }) => {
      const subscription = eventSourcePoke('http://127.0.0.1:1/_events', { EventSource: ScriptedEventSource, scheduler }).subscribe((p) => pokes.push(p));
      scheduler.schedule(() => subscription.unsubscribe(), 60_000);
      flush();
    });
    const attempts = ScriptedEventSource.attempts;
    expect(attempts).toHaveLength(5);
    const gaps = attempts.slice(1).map((attempt, n) => attempt.at - attempts[n].at);
    for (const [gap, base] of [
      [gaps[0], 1000],
      [gaps[1], 2000],
      [gaps[2], 4000],
      [gaps[3], 1000],
    ]) {
      expect(gap).toBeGreaterThanOrEqual(base);
      expect(gap).toBeLessThanOrEqual(base * 1.2);
    }
    expect(attempts[0].url).toBe('http://127.0.0.1:1/_events');
    expect(attempts.slice(1).map((attempt) => attempt.url)).toEqual(Array(4).fill('http://127.0.0.1:1/_events?lastEventId=7'));
    expect(pokes).toEqual(['7']);
    expect(attempts.map((attempt) => attempt.closedByClient)).toEqual([true, true, true, true, true]);
  });
});
