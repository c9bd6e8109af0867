import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SyncServer } from '../../server/index.js';
import { call, storeKind, useServer, withServer } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'rxsync-security-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A raw request: fetch would refuse to send a forged Host header. */
function rawRequest(server: SyncServer, options: { method?: string; path: string; headers?: Record<string, string>; body?: string }) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method: options.method ?? 'GET', path: options.path, headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('reference server, safe by default', () => {
  const fixture = useServer({ admin: false });

  it('has no admin routes unless started with admin: true', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
    for (const [method, path] of [['POST', '/__reset'], ['GET', '/__records/todos'], ['GET', '/__writes'], ['GET', '/__faults'], ['POST', '/__faults'], ['GET', '/__stats']]) {
      const res = await call(fixture.server, method, path, method === 'POST' ? { body: { failureRate: 1 } } : {});
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    expect(await fixture.server.db.records('todos')).toHaveLength(1);
    expect(fixture.server.faults.config.failureRate).toBe(0);
    expect((await call(fixture.server, 'GET', '/')).body.routes).not.toContain('/__reset');
  });

  it('answers 415 to a body that is not JSON (a CORS "simple" request) and applies nothing', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await call(fixture.server, 'POST', '/todos', { raw: JSON.stringify({ id: 'a' }), headers: { 'Content-Type': type } });
      expect(res.status).toBe(415);
      expect(res.body.error).toMatch(/application\/json/);
    }
    const batch = await call(fixture.server, 'POST', '/_batch', { raw: '[]', headers: { 'Content-Type': 'text/plain' } });
    expect(batch.status).toBe(415);
    expect(await fixture.server.db.records('todos')).toEqual([]);
    expect((await call(fixture.server, 'PUT', '/todos/a', { raw: '{}', headers: { 'Content-Type': 'application/merge-patch+json' } })).status).toBe(200);
  });

  it('refuses a browser origin that is not allowed (403, no CORS headers) and allows loopback origins', async () => {
    const evil = { Origin: 'https://evil.example' };
    const preflight = await fetch(`${fixture.server.url}/todos/a`, { method: 'OPTIONS', headers: { ...evil, 'Access-Control-Request-Method': 'DELETE' } });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const write = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: evil });
    expect(write.status).toBe(403);
    expect(write.headers.get('access-control-allow-origin')).toBeNull();
    expect(await fixture.server.db.records('todos')).toEqual([]);
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:8787', 'http://[::1]:8080']) {
      const res = await call(fixture.server, 'GET', '/todos', { headers: { Origin: origin } });
      expect([origin, res.status, res.headers.get('access-control-allow-origin')]).toEqual([origin, 200, origin]);
    }
  });

  it('refuses a Host that does not name the server (DNS rebinding)', async () => {
    const rebound = await rawRequest(fixture.server, { path: '/todos', headers: { Host: `evil.example:${fixture.server.port}` } });
    expect(rebound.status).toBe(403);
    expect(rebound.text).toMatch(/Host/);
    for (const host of [`localhost:${fixture.server.port}`, `127.0.0.1:${fixture.server.port}`, `[::1]:${fixture.server.port}`]) {
      expect((await rawRequest(fixture.server, { path: '/todos', headers: { Host: host } })).status).toBe(200);
    }
  });

  it('answers 400 to malformed JSON and to JSON nested too deep, without internal error text', async () => {
    const bad = await call(fixture.server, 'POST', '/todos', { raw: '{"id": ' });
    expect(bad.status).toBe(400);
    const depth = 100_000;
    const deep = await call(fixture.server, 'PUT', '/todos/a', { raw: `{"x":${'['.repeat(depth)}${']'.repeat(depth)}}` });
    expect(deep.status).toBe(400);
    expect(deep.body.error).toMatch(/nested deeper than 64/);
    const deepBatch = await call(fixture.server, 'POST', '/_batch', { raw: `[{"method":"PUT","path":"/todos/a","body":{"x":${'['.repeat(depth)}${']'.repeat(depth)}}}]` });
    expect(deepBatch.status).toBe(400);
    expect(await fixture.server.db.records('todos')).toEqual([]);
  });

  it('refuses a record larger than the limit (413) and keeps batch answers within the response limit', async () => {
    // The attack: one large record, then a small batch of PATCHes each answered with the whole record.
    const huge = await call(fixture.server, 'PUT', '/todos/big', { body: { blob: 'x'.repeat(9 * 1024 * 1024) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toMatch(/limit/);
    const blob = 'x'.repeat(1000 * 1024);
    expect((await call(fixture.server, 'PUT', '/todos/big', { body: { blob } })).status).toBe(200);
    const patches = Array.from({ length: 60 }, (_, n) => ({ key: `p${n}`, method: 'PATCH', path: '/todos/big', body: { n } }));
    const response = await fetch(`${fixture.server.url}/_batch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(patches) });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(text.length).toBeLessThanOrEqual(8 * 1024 * 1024);
    const statuses: number[] = JSON.parse(text).results.map((r: { status: number }) => r.status);
    const applied = statuses.filter((s) => s === 200).length;
    expect(applied).toBeGreaterThan(0);
    expect(statuses).toEqual([...Array(applied).fill(200), ...Array(60 - applied).fill(503)]);
    expect(await fixture.server.db.record('todos', 'big')).toMatchObject({ n: applied - 1, version: applied + 1 });
    // Still serving; the 503 items are applied when sent again.
    const rest = await call(fixture.server, 'POST', '/_batch', { body: patches.slice(applied, applied + 2) });
    expect(rest.body.results.map((r: { status: number }) => r.status)).toEqual([200, 200]);
  });

  it('cuts pull pages to the response limit (at least one record per page)', async () => {
    const blob = 'y'.repeat(1000 * 1024);
    for (let n = 0; n < 12; n++) await call(fixture.server, 'PUT', `/docs/d${n}`, { body: { blob } });
    const first = await fetch(`${fixture.server.url}/docs?limit=100`);
    const text = await first.text();
    expect(text.length).toBeLessThanOrEqual(8 * 1024 * 1024);
    const page = JSON.parse(text);
    expect(page.hasMore).toBe(true);
    expect(page.items.length).toBeGreaterThan(0);
    expect(page.items.length).toBeLessThan(12);
    const next = await call(fixture.server, 'GET', `/docs?since=${page.checkpoint}`);
    expect(page.items.length + next.body.items.length).toBe(12);
    expect(next.body.hasMore).toBe(false);
  });
});

describe('reference server: authorize hook', () => {
  const tokens: Record<string, string> = { 'token-alice': 'alice', 'token-bob': 'bob' };
  const fixture = useServer({
    admin: false,
    authorize: (req) => {
      const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
      const principal = match ? tokens[match[1]] : undefined;
      if (principal) return { principal };
      if (req.headers.authorization === 'Bearer boom') throw new Error('token store password is hunter2');
      return { reject: 401, message: 'Send Authorization: Bearer <token>', headers: { 'WWW-Authenticate': 'Bearer' } };
    },
    rateLimit: { requestsPerSecond: 0.001, burst: 3 },
  });
  const as = (token: string) => ({ Authorization: `Bearer ${token}` });

  it('refuses a request without a valid token and applies nothing', async () => {
    const res = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.body.error).toMatch(/Bearer/);
    expect((await call(fixture.server, 'POST', '/_batch', { body: [{ method: 'PUT', path: '/todos/a', body: {} }] })).status).toBe(401);
    expect((await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: as('token-alice') })).status).toBe(201);
  });

  it('answers a failing hook with a plain 500 that does not leak its message', async () => {
    const res = await call(fixture.server, 'GET', '/todos', { headers: as('boom') });
    expect(res.status).toBe(500);
    expect(JSON.stringify(res.body)).not.toMatch(/hunter2|token store/);
    expect(res.body.error).toBe('Internal server error');
  });

  it('rate-limits each principal on its own, with 429 and Retry-After', async () => {
    for (let n = 0; n < 3; n++) expect((await call(fixture.server, 'GET', '/todos', { headers: as('token-alice') })).status).toBe(200);
    const limited = await call(fixture.server, 'GET', '/todos', { headers: as('token-alice') });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect((await call(fixture.server, 'GET', '/todos', { headers: as('token-bob') })).status).toBe(200);
  });
});

describe('reference server: static files', () => {
  const root = join(tmp, 'public');
  mkdirSync(join(root, '.git'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html>');
  writeFileSync(join(root, '.env'), 'SECRET=1');
  writeFileSync(join(root, '.git', 'config'), '[core]');
  writeFileSync(join(tmp, 'outside.txt'), 'outside');
  symlinkSync(join(tmp, 'outside.txt'), join(root, 'link.txt'));
  symlinkSync(tmp, join(root, 'up'));
  writeFileSync(join(root, 'page.html'), 'inside');
  symlinkSync(join(root, 'page.html'), join(root, 'alias.html'));
  const fixture = useServer({ admin: false, staticDir: root });

  it('never serves dotfiles or files behind symlinks that leave the root', async () => {
    for (const path of ['/.env', '/.git/config', '/%2eenv', '/link.txt', '/up/outside.txt']) {
      const res = await fetch(fixture.server.url + path);
      const text = await res.text();
      expect([path, res.status]).toEqual([path, 404]);
      expect(text).not.toMatch(/SECRET=1|\[core\]/);
      expect(text).not.toBe('outside');
    }
    expect(await (await fetch(`${fixture.server.url}/alias.html`)).text()).toBe('inside');
  });
});

describe.skipIf(storeKind() !== 'sqlite')('reference server: a busy SQLite database', () => {
  it('answers 503 with Retry-After at once instead of waiting on the lock; reads still work', async () => {
    const file = join(tmp, 'busy.sqlite');
    await withServer({ db: file }, async (server) => {
      await call(server, 'PUT', '/todos/a', { body: { n: 1 } });
      const other = new Database(file);
      other.exec('BEGIN IMMEDIATE');
      try {
        const res = await call(server, 'PATCH', '/todos/a', { body: { n: 2 } });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(res.body.error).toMatch(/busy/);
        const batch = await call(server, 'POST', '/_batch', { body: [{ key: 'b', method: 'PATCH', path: '/todos/a', body: { n: 3 } }] });
        expect(batch.body.results[0].status).toBe(503);
        expect((await call(server, 'GET', '/todos')).body.items).toHaveLength(1);
      } finally {
        other.exec('ROLLBACK');
        other.close();
      }
      expect((await call(server, 'PATCH', '/todos/a', { body: { n: 2 } })).body).toMatchObject({ n: 2, version: 2 });
    });
  });
});
