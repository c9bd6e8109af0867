import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startSyncServer, type SyncServer } from '../../server/index.js';
import { runCheck } from '../../src/check/runCheck.js';
import { main } from '../../src/check/main.js';
import type { CaseResult } from '../../src/check/cases.js';
import { mapJson, startVariant, type Deviation } from './variantServer.js';

const running: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function reference(): Promise<SyncServer> {
  // The check probes CORS from its own origin; the reference server allows loopback origins only unless told.
  const server = await startSyncServer({ allowedOrigins: ['https://rxsync-check.invalid'] });
  running.push(server);
  return server;
}

/** The check against a reference server behind one deviation; the status of each case. */
async function checkVariant(deviate: Deviation): Promise<Record<string, CaseResult['status']> & { results: CaseResult[] }> {
  const target = await reference();
  const variant = await startVariant(target.url, deviate);
  running.push(variant);
  const results = await runCheck({ baseUrl: variant.url, entity: 'todos' });
  return Object.assign(Object.fromEntries(results.map((r) => [r.id, r.status])), { results });
}

const failed = (results: CaseResult[]) => results.filter((r) => r.status === 'fail').map((r) => r.id);
const isCollection = (url: string) => /^\/todos(\?|$)/.test(url);

describe('rxsync-check', () => {
  it('passes every case against the reference server', async () => {
    const server = await reference();
    const results = await runCheck({ baseUrl: server.url, entity: 'todos' });
    expect(results.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(results.map((r) => r.id)).toEqual([
      'pull-format', 'create', 'record-version', 'create-existing', 'idempotent-create', 'update', 'idempotent-update',
      'if-match-current', 'if-match-stale', 'update-missing', 'put', 'delete', 'pull-paging', 'pull-changes', 'pull-tombstones', 'retry-after',
    ]);
    // It leaves no live record behind.
    expect(await server.db.records('todos')).toEqual([]);
  });

  it('a server that ignores Idempotency-Key: both replay cases fail, with what that means', async () => {
    const outcome = await checkVariant((exchange, forward) => {
      delete exchange.headers['idempotency-key'];
      return forward(exchange);
    });
    expect(failed(outcome.results)).toEqual(['idempotent-create', 'idempotent-update']);
    const update = outcome.results.find((r) => r.id === 'idempotent-update');
    expect(update?.detail).toMatch(/the repeat (answered|was applied again)/);
    expect(update?.meaning).toMatch(/applied twice/);
  });

  it('a server that ignores If-Match: the stale write case fails as a lost update', async () => {
    const outcome = await checkVariant((exchange, forward) => {
      delete exchange.headers['if-match'];
      return forward(exchange);
    });
    expect(failed(outcome.results)).toEqual(['if-match-stale']);
    expect(outcome.results.find((r) => r.id === 'if-match-stale')?.detail).toMatch(/\(stale; current is \d+\) was applied/);
  });

  it('answering 412 to a stale If-Match passes (RFC 9110), like 409', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      return exchange.method === 'PATCH' && reply.status === 409 ? { ...reply, status: 412 } : reply;
    });
    expect(failed(outcome.results)).toEqual([]);
    expect(outcome.results.find((r) => r.id === 'if-match-stale')?.detail).toMatch(/^412 with the current record/);
  });

  it('a 409 whose body is an error object, not the record: both conflict cases fail', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      return reply.status === 409 ? mapJson(reply, () => ({ error: 'conflict' })) : reply;
    });
    expect(failed(outcome.results)).toEqual(['create-existing', 'if-match-stale']);
    expect(outcome.results.find((r) => r.id === 'create-existing')?.detail).toBe('409, but the body is not the current record: {"error":"conflict"}');
  });

  it('a duplicate create answered 500 (json-server does this) fails: rxsync would retry it until it dead-letters', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      return exchange.method === 'POST' && reply.status === 409 ? { ...reply, status: 500, body: '{"error":"Insert failed, duplicate id"}' } : reply;
    });
    expect(failed(outcome.results)).toEqual(['create-existing']);
    expect(outcome.results.find((r) => r.id === 'create-existing')?.meaning).toMatch(/a 5xx is retried until dead-lettered/);
  });

  it('a PATCH that replaces the record: update fails because the fields not sent are lost', async () => {
    const outcome = await checkVariant((exchange, forward) => {
      if (exchange.method !== 'PATCH') return forward(exchange);
      const body = JSON.parse(exchange.body ?? '{}') as Record<string, unknown>;
      return forward({ ...exchange, method: 'PUT', body: JSON.stringify({ ...body, id: decodeURIComponent(exchange.url.split('/')[2]) }) });
    });
    expect(outcome.update).toBe('fail');
    expect(outcome.results.find((r) => r.id === 'update')?.detail).toMatch(/^fields not sent were lost/);
  });

  it('a PATCH of a missing record that creates it fails update-missing', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      if (exchange.method !== 'PATCH' || reply.status !== 404) return reply;
      return forward({ ...exchange, method: 'PUT', body: JSON.stringify({ ...JSON.parse(exchange.body ?? '{}'), id: decodeURIComponent(exchange.url.split('/')[2]) }) });
    });
    expect(failed(outcome.results)).toEqual(['update-missing']);
  });

  it('a pull answering a plain array fails pull-format with the adapter to use; the pull cases are skipped', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      return exchange.method === 'GET' && isCollection(exchange.url) ? mapJson(reply, (body) => (body as { items: unknown[] }).items) : reply;
    });
    expect(failed(outcome.results)).toEqual(['pull-format']);
    expect(outcome.results.find((r) => r.id === 'pull-format')?.meaning).toMatch(/pull: \{ page: arrayPage, snapshot: true \}/);
    expect([outcome['pull-paging'], outcome['pull-changes'], outcome['pull-tombstones']]).toEqual(['skipped', 'skipped', 'skipped']);
  });

  it('a change feed without tombstones fails pull-tombstones only', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      if (exchange.method !== 'GET' || !isCollection(exchange.url)) return reply;
      return mapJson(reply, (body) => ({ ...(body as object), items: (body as { items: { deleted?: boolean }[] }).items.filter((i) => !i.deleted) }));
    });
    expect(failed(outcome.results)).toEqual(['pull-tombstones']);
  });

  it('a pull that ignores since fails pull-paging instead of looping', async () => {
    const outcome = await checkVariant((exchange, forward) => {
      const url = new URL(exchange.url, 'http://x');
      url.searchParams.delete('since');
      return forward({ ...exchange, url: `${url.pathname}${url.search}` });
    });
    expect(failed(outcome.results)).toEqual(['pull-paging']);
    expect(outcome.results.find((r) => r.id === 'pull-paging')?.detail).toMatch(/answered the checkpoint it was given|already pulled|came more than once/);
  });

  it('a checkpoint that goes back fails pull-paging', async () => {
    let pages = 0;
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      if (exchange.method !== 'GET' || !exchange.url.includes('limit=1')) return reply;
      // The second page of the paged pull claims an earlier position than the first.
      return ++pages === 2 ? mapJson(reply, (body) => ({ ...(body as object), checkpoint: '0' })) : reply;
    });
    expect(failed(outcome.results)).toEqual(['pull-paging']);
    expect(outcome.results.find((r) => r.id === 'pull-paging')?.detail).toMatch(/^the checkpoint went back/);
  });

  it('a CORS setup that hides Retry-After fails retry-after; records without versions are unsupported, not failures', async () => {
    const outcome = await checkVariant(async (exchange, forward) => {
      const reply = await forward(exchange);
      delete reply.headers['access-control-expose-headers'];
      const strip = (record: unknown) => {
        if (typeof record !== 'object' || record === null) return record;
        const { version: _version, updatedAt: _updatedAt, ...rest } = record as Record<string, unknown>;
        return rest;
      };
      return reply.body.startsWith('{') ? mapJson(reply, (body) => ('items' in (body as object) ? { ...(body as object), items: (body as { items: unknown[] }).items.map(strip) } : strip(body))) : reply;
    });
    expect(failed(outcome.results)).toEqual(['retry-after']);
    expect(outcome['record-version']).toBe('unsupported');
    expect([outcome['if-match-current'], outcome['if-match-stale']]).toEqual(['skipped', 'skipped']);
  });

  it('a server without PUT: the client-wins re-send is unsupported', async () => {
    const outcome = await checkVariant((exchange, forward) =>
      exchange.method === 'PUT' ? Promise.resolve({ status: 405, headers: { 'content-type': 'application/json' }, body: '{"error":"no PUT"}' }) : forward(exchange),
    );
    expect(failed(outcome.results)).toEqual([]);
    expect(outcome.put).toBe('unsupported');
  });
});

describe('rxsync-check command line', () => {
  it('prints the table and exits 0 against the reference server, 1 when a case fails, 2 on bad arguments', async () => {
    const server = await reference();
    const printed: string[] = [];
    expect(await main([server.url, '--entity', 'notes'], (text) => printed.push(text))).toBe(0);
    expect(printed.join('\n')).toMatch(/^rxsync-check http:\/\/127\.0\.0\.1:\d+ --entity notes\n\nresult +case +what was seen\n/);
    expect(printed.join('\n')).toContain('16 passed, 0 failed, 0 unsupported, 0 skipped');

    const broken = await startVariant(server.url, (exchange, forward) => {
      delete exchange.headers['if-match'];
      return forward(exchange);
    });
    running.push(broken);
    printed.length = 0;
    expect(await main([broken.url, '--json'], (text) => printed.push(text))).toBe(1);
    expect((JSON.parse(printed[0]) as CaseResult[]).find((r) => r.status === 'fail')).toMatchObject({ id: 'if-match-stale', meaning: expect.stringMatching(/lost update/) });

    for (const args of [[], ['not-a-url'], [server.url, '--header', 'no colon'], [server.url, '--nope']]) {
      printed.length = 0;
      expect(await main(args, (text) => printed.push(text))).toBe(2);
      expect(printed[0]).toMatch(/^\[rxsync\] .*\n\nUsage: rxsync-check <baseUrl>/s);
    }
    await broken.close();
    printed.length = 0;
    expect(await main([broken.url], (text) => printed.push(text))).toBe(2);
    expect(printed[0]).toMatch(/^\[rxsync\] Could not reach http:\/\/127\.0\.0\.1:\d+ \(fetch failed\)\. Is the server running/);
  });

  it('runs as a bin: exit code and report', async () => {
    const server = await reference();
    // Asynchronously: the server answers from this very process.
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/check/cli.ts', server.url, '--entity', 'todos', '-H', 'Authorization: Bearer x']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('16 passed, 0 failed');
  });
});
