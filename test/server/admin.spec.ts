import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { startSyncServer, type SqliteStore } from '../../server/index.js';
import { call, storeKind, useServer } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'rxsync-server-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('reference server: admin endpoints', () => {
  const fixture = useServer();

  it('GET /__records/{entity} lists live records (tombstones with includeDeleted)', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'b' } });
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } });
    await call(fixture.server, 'DELETE', '/todos/b');
    const live = await call(fixture.server, 'GET', '/__records/todos');
    expect(live.body).toEqual([(await fixture.server.db.record('todos', 'a'))]);
    const all = await call(fixture.server, 'GET', '/__records/todos?includeDeleted=true');
    expect(all.body.map((r: any) => [r.id, r.deleted ?? false])).toEqual([['a', false], ['b', true]]);
    expect((await call(fixture.server, 'GET', '/__records/nothing')).body).toEqual([]);
  });

  it('GET /__writes lists every applied write; GET /__stats counts', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
    await call(fixture.server, 'PATCH', '/todos/a', { body: { n: 1 } });
    await call(fixture.server, 'DELETE', '/todos/a');
    await call(fixture.server, 'PUT', '/notes/x', { body: {} });
    const writes = (await call(fixture.server, 'GET', '/__writes')).body;
    expect(writes).toEqual([
      { seq: 1, entity: 'todos', recordId: 'a', method: 'POST', idempotencyKey: 'k', version: 1, at: expect.any(String) },
      { seq: 2, entity: 'todos', recordId: 'a', method: 'PATCH', idempotencyKey: null, version: 2, at: expect.any(String) },
      { seq: 3, entity: 'todos', recordId: 'a', method: 'DELETE', idempotencyKey: null, version: 3, at: expect.any(String) },
      { seq: 4, entity: 'notes', recordId: 'x', method: 'PUT', idempotencyKey: null, version: 1, at: expect.any(String) },
    ]);
    expect((await call(fixture.server, 'GET', '/__stats')).body).toEqual({
      records: 1,
      tombstones: 1,
      writes: 4,
      idempotentReplays: 1,
      idempotencyKeys: 1,
      seq: 4,
      faults: { delayed: 0, failed: 0, dropped: 0 },
      eventStreams: 0,
    });
  });

  it('POST /__reset wipes data and keys but never rewinds the change sequence', async () => {
    await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
    const before = (await call(fixture.server, 'GET', '/todos')).body.checkpoint;
    fixture.server.faults.set({ latencyMs: 1 });
    expect((await call(fixture.server, 'POST', '/__reset')).body).toEqual({ ok: true });
    expect(fixture.server.faults.config.latencyMs).toBe(1); // faults are not data
    expect((await call(fixture.server, 'GET', '/__stats')).body).toMatchObject({ records: 0, tombstones: 0, writes: 0, idempotentReplays: 0, idempotencyKeys: 0 });
    const again = await call(fixture.server, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    const page = (await call(fixture.server, 'GET', `/todos?since=${before}`)).body;
    expect(page.items.map((r: any) => r.id)).toEqual(['a']);
    expect(Number(page.checkpoint)).toBeGreaterThan(Number(before));
  });

  it('answers 404 for unknown admin routes and 405 for wrong methods', async () => {
    expect((await call(fixture.server, 'GET', '/__nope')).status).toBe(404);
    expect((await call(fixture.server, 'GET', '/__reset')).status).toBe(405);
    expect((await call(fixture.server, 'POST', '/__writes')).status).toBe(405);
  });

  it('answers CORS preflight of a loopback origin and adds CORS headers to every answer to it', async () => {
    const origin = 'http://localhost:5173';
    const preflight = await fetch(`${fixture.server.url}/todos/1`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'if-match, idempotency-key' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('vary')).toBe('Origin');
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/PATCH/);
    for (const name of ['Content-Type', 'Idempotency-Key', 'If-Match', 'Authorization']) {
      expect(preflight.headers.get('access-control-allow-headers')).toContain(name);
    }
    expect(preflight.headers.get('access-control-expose-headers')).toContain('Retry-After');
    const headers = { Origin: origin };
    for (const res of [await call(fixture.server, 'GET', '/todos', { headers }), await call(fixture.server, 'GET', '/nope/a/b', { headers }), await call(fixture.server, 'GET', '/__stats', { headers })]) {
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    }
  });

  it('GET / without a static directory describes the server', async () => {
    const res = await call(fixture.server, 'GET', '/');
    expect(res.status).toBe(200);
    expect(res.body.server).toMatch(/rxsync/);
  });
});

describe('reference server: staticDir', () => {
  const dir = join(tmp, 'public');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>demo</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'app.js.map'), '{}');
  writeFileSync(join(dir, 'style.css'), 'body{}');
  writeFileSync(join(dir, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(tmp, 'secret.txt'), 'no');
  const fixture = useServer({ staticDir: dir });

  it.each([
    ['/', 'text/html; charset=utf-8', '<!doctype html><title>demo</title>'],
    ['/index.html', 'text/html; charset=utf-8', '<!doctype html><title>demo</title>'],
    ['/assets/app.js', 'text/javascript; charset=utf-8', 'console.log(1)'],
    ['/assets/app.js.map', 'application/json; charset=utf-8', '{}'],
    ['/style.css', 'text/css; charset=utf-8', 'body{}'],
  ])('serves %s as %s', async (path, type, text) => {
    const res = await fetch(fixture.server.url + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(await res.text()).toBe(text);
  });

  it('serves png bytes and answers HEAD without a body', async () => {
    const png = await fetch(`${fixture.server.url}/logo.png`);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(new Uint8Array(await png.arrayBuffer())).toEqual(new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
    const head = await fetch(`${fixture.server.url}/style.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('6');
  });

  it('never serves files outside the directory', async () => {
    // raw requests: fetch would normalise the dot segments away before sending
    const rawGet = (path: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        get({ host: '127.0.0.1', port: fixture.server.port, path }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, text }));
        }).on('error', reject);
      });
    for (const path of ['/../secret.txt', '/..%2fsecret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e%2fsecret.txt']) {
      const res = await rawGet(path);
      expect(res.status).toBe(404);
      expect(res.text).not.toBe('no');
    }
  });

  it('still answers the API next to the files', async () => {
    expect((await call(fixture.server, 'POST', '/todos', { body: { id: 'a' } })).status).toBe(201);
    expect((await call(fixture.server, 'GET', '/todos')).body.items).toHaveLength(1);
    expect((await call(fixture.server, 'GET', '/missing.js')).status).toBe(404);
  });
});

describe.skipIf(storeKind() !== 'sqlite')('reference server: SQLite file', () => {
  it('uses WAL and keeps data, keys and the sequence across restarts', async () => {
    const file = join(tmp, 'sync.sqlite');
    const first = await startSyncServer({ db: file });
    expect((first.db as SqliteStore).sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    const created = await call(first, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
    await first.close();
    await first.close(); // idempotent

    const second = await startSyncServer({ db: file });
    try {
      expect(await second.db.records('todos')).toEqual([created.body]);
      const replay = await call(second, 'POST', '/todos', { body: { id: 'a' }, headers: { 'Idempotency-Key': 'k' } });
      expect(replay).toMatchObject({ status: 201, body: created.body });
      expect((await call(second, 'PATCH', '/todos/a', { body: { n: 1 } })).body.version).toBe(2);
      expect((await second.db.writeLog()).map((w) => w.seq)).toEqual([1, 2]);
    } finally {
      await second.close();
    }
  });
});

describe.skipIf(storeKind() !== 'sqlite')('reference server: CLI (server/main.ts)', () => {
  it('prints its URL, serves, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--port', '0', '--quiet'], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, DB: ':memory:' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout! });
      const url = await new Promise<string>((resolve, reject) => {
        lines.on('line', (line) => {
          const match = /listening on (http:\/\/\S+)/.exec(line);
          if (match) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`server exited early with ${code}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/todos`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'a' }) });
      expect(res.status).toBe(201);
      // Admin routes are off unless --admin.
      expect((await fetch(`${url}/__stats`)).status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });
});
