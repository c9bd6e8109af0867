/** GET /_events: a server-sent event stream of pokes (the feed position after each committed change). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { call, storeKind, useServer, withServer } from './helpers.js';
import { openEvents, openStreams, poke, type EventStreamReader } from './eventStream.js';

const open: EventStreamReader[] = [];
afterEach(() => {
  for (const stream of open.splice(0)) stream.close();
});

async function events(...args: Parameters<typeof openEvents>): Promise<EventStreamReader> {
  const stream = await openEvents(...args);
  open.push(stream);
  return stream;
}

/** The position a poke frame names. */
function positionOf(frame: string | undefined): string {
  const match = /^event: poke\nid: (\d+)\ndata: \1$/.exec(frame ?? '');
  if (!match) throw new Error(`not a poke: ${JSON.stringify(frame)}`);
  return match[1];
}

describe('GET /_events', () => {
  const fixture = useServer({ events: { heartbeatMs: 50 } });

  it('is a text/event-stream that pokes after each committed write, with no record data', async () => {
    const stream = await events(fixture.server);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await stream.next()).toBe('retry: 1000');

    expect((await call(fixture.server, 'PUT', '/todos/a', { body: { title: 'secret' } })).status).toBe(200);
    const first = positionOf(await nextNonHeartbeat(stream));
    expect((await call(fixture.server, 'PATCH', '/todos/a', { body: { title: 'x' } })).status).toBe(200);
    const second = positionOf(await nextNonHeartbeat(stream));
    expect(BigInt(second)).toBeGreaterThan(BigInt(first));
    if (storeKind() === 'sqlite') {
      // On SQLite the position is exactly the checkpoint a pull ends at.
      expect((await call(fixture.server, 'GET', '/todos')).body.checkpoint).toBe(second);
    }
  });

  it('does not poke for refused writes or idempotent replays', async () => {
    const stream = await events(fixture.server);
    await stream.next();
    const key = { 'Idempotency-Key': 'k1' };
    await call(fixture.server, 'PUT', '/todos/a', { body: { n: 1 }, headers: key });
    const first = positionOf(await nextNonHeartbeat(stream));
    expect((await call(fixture.server, 'PUT', '/todos/a', { body: { n: 1 }, headers: key })).headers.get('idempotent-replayed')).toBe('true');
    expect((await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 2 }, headers: { 'If-Match': '7' } })).status).toBe(409);
    expect((await call(fixture.server, 'DELETE', '/todos/a')).status).toBe(200);
    const next = await nextNonHeartbeat(stream);
    expect(next).toBe(poke(positionOf(next)));
    expect(BigInt(positionOf(next))).toBeGreaterThan(BigInt(first));
    // Only the delete poked: the stream now has nothing but heartbeats.
    expect(await stream.next()).toBe(': heartbeat');
  });

  it('sends a heartbeat comment every heartbeatMs', async () => {
    const stream = await events(fixture.server);
    expect(await stream.next()).toBe('retry: 1000');
    expect(await stream.next()).toBe(': heartbeat');
    expect(await stream.next()).toBe(': heartbeat');
  });

  it('resumes: a Last-Event-ID other than the current position gets one poke at once, the current one none', async () => {
    const writer = await events(fixture.server);
    await writer.next();
    await call(fixture.server, 'PUT', '/todos/a', { body: {} });
    const old = positionOf(await nextNonHeartbeat(writer));
    await call(fixture.server, 'PUT', '/todos/b', { body: {} });
    const current = positionOf(await nextNonHeartbeat(writer));

    const behind = await events(fixture.server, { headers: { 'Last-Event-ID': old } });
    expect(await behind.next()).toBe('retry: 1000');
    expect(await behind.next()).toBe(poke(current));
    expect(await behind.next()).toBe(': heartbeat');

    const viaQuery = await events(fixture.server, { query: `?lastEventId=${old}` });
    await viaQuery.next();
    expect(await viaQuery.next()).toBe(poke(current));

    const upToDate = await events(fixture.server, { headers: { 'Last-Event-ID': current } });
    await upToDate.next();
    expect(await upToDate.next()).toBe(': heartbeat');

    // A position this server never handed out (e.g. before its database was replaced).
    const stranger = await events(fixture.server, { headers: { 'Last-Event-ID': 'not-a-number' } });
    await stranger.next();
    expect(await stranger.next()).toBe(poke(current));
  });

  it('ends open streams when the server closes, and sees a client leave', async () => {
    const stream = await events(fixture.server);
    await stream.next();
    expect(await openStreams(fixture.server)).toBe(1);
    stream.close();
    await vi.waitFor(async () => expect(await openStreams(fixture.server)).toBe(0));

    const other = await events(fixture.server);
    await other.next();
    await fixture.server.close();
    expect(await nextNonHeartbeat(other)).toBeUndefined();
  });

  it('answers other methods 405', async () => {
    const answer = await call(fixture.server, 'POST', '/_events', { body: {} });
    expect(answer.status).toBe(405);
    expect(answer.headers.get('allow')).toBe('GET');
  });
});

describe('GET /_events is guarded like every other route', () => {
  it('by authorize', async () => {
    await withServer({ authorize: (req) => (req.headers.authorization === 'Bearer ok' ? { principal: 'ann' } : { reject: 401 }) }, async (server) => {
      expect((await events(server)).response.status).toBe(401);
      expect((await events(server, { headers: { Authorization: 'Bearer ok' } })).response.status).toBe(200);
    });
  });

  it('by the Origin and Host allow-lists', async () => {
    await withServer({}, async (server) => {
      expect((await events(server, { headers: { Origin: 'https://evil.example' } })).response.status).toBe(403);
      const allowed = await events(server, { headers: { Origin: 'http://localhost:5173' } });
      expect(allowed.response.status).toBe(200);
      expect(allowed.response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    });
  });

  it('by the rate limit', async () => {
    await withServer({ rateLimit: { requestsPerSecond: 0.001, burst: 1 } }, async (server) => {
      expect((await events(server)).response.status).toBe(200);
      const refused = await events(server);
      expect(refused.response.status).toBe(429);
      expect(refused.response.headers.get('retry-after')).not.toBeNull();
    });
  });
});

async function nextNonHeartbeat(stream: EventStreamReader): Promise<string | undefined> {
  for (;;) {
    const frame = await stream.next();
    if (frame !== ': heartbeat') return frame;
  }
}
