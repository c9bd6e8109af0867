import { isDeepStrictEqual } from 'node:util';
import { preview } from '../errors.js';
import { CASES, type CaseId, type CaseResult } from './cases.js';
import { Probe, type Answer } from './probe.js';

/** What to check. */
export interface CheckOptions {
  /** The API's base URL, e.g. `https://staging.example.com/api`. */
  baseUrl: string;
  /** The collection to write test records to, e.g. `todos` (requests go to `{baseUrl}/todos`). */
  entity: string;
  /** Sent with every request, e.g. `{ Authorization: 'Bearer …' }`. */
  headers?: Record<string, string>;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
}

type Outcome = { status: 'pass' | 'fail' | 'unsupported'; detail: string };
const pass = (detail: string): Outcome => ({ status: 'pass', detail });
const fail = (detail: string): Outcome => ({ status: 'fail', detail });
const unsupported = (detail: string): Outcome => ({ status: 'unsupported', detail });

type Json = Record<string, unknown>;
const isRecord = (body: unknown, id?: string): body is Json =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && (id === undefined || String((body as Json).id) === id);
const is2xx = (answer: Answer) => answer.status >= 200 && answer.status < 300;
const said = (answer: Answer) => `${answer.status} ${preview(answer.body)}`;
const asNumber = (value: unknown) => (typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN);
const MAX_PAGES = 10_000;

/**
 * Runs the protocol cases of docs/PROTOCOL.md against a live API. It writes a few records
 * with ids starting `rxsync-check-` to the entity and deletes them at the end (tombstones
 * stay), so point it at a staging server.
 */
export async function runCheck(options: CheckOptions): Promise<CaseResult[]> {
  const probe = new Probe(options.baseUrl.replace(/\/+$/, ''), options.headers, options.timeoutMs);
  const collection = `/${options.entity.replace(/^\/+|\/+$/g, '')}`;
  const path = (id: string) => `${collection}/${encodeURIComponent(id)}`;
  const prefix = `rxsync-check-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let counter = 0;
  const newId = () => `${prefix}-${++counter}`;
  const newKey = () => `${prefix}-key-${++counter}`;
  const results = new Map<CaseId, CaseResult>();

  const step = async (id: CaseId, needs: CaseId[], run: () => Promise<Outcome>): Promise<void> => {
    const missing = needs.filter((need) => results.get(need)?.status !== 'pass');
    let outcome: Outcome | { status: 'skipped'; detail: string };
    if (missing.length > 0) outcome = { status: 'skipped', detail: `needs ${missing.join(', ')}` };
    else {
      try {
        outcome = await run();
      } catch (error) {
        outcome = fail(error instanceof Error ? error.message : String(error));
      }
    }
    const { title, meaning } = CASES[id];
    results.set(id, { id, title, ...outcome, ...(outcome.status === 'fail' ? { meaning } : {}) });
  };

  /** Follows `hasMore` from `since`; the pages, or a failure. */
  const pullFrom = async (since: string | undefined, limit?: number): Promise<{ pages: { items: unknown[]; checkpoint?: string; hasMore: boolean }[] } | Outcome> => {
    const pages: { items: unknown[]; checkpoint?: string; hasMore: boolean }[] = [];
    let checkpoint = since;
    for (;;) {
      const query = new URLSearchParams();
      if (checkpoint !== undefined) query.set('since', checkpoint);
      if (limit !== undefined) query.set('limit', String(limit));
      const url = `${collection}${query.size > 0 ? `?${query.toString()}` : ''}`;
      const answer = await probe.send('GET', url);
      if (!is2xx(answer)) return fail(`GET ${url} answered ${said(answer)}`);
      if (Array.isArray(answer.body)) return fail(`GET ${url} answered a plain JSON array, not { items, checkpoint, hasMore }`);
      const body = answer.body as { items?: unknown; checkpoint?: unknown; hasMore?: unknown } | undefined;
      if (!isRecord(body) || !Array.isArray(body.items)) return fail(`GET ${url} answered ${said(answer)}, not { items: [...] }`);
      const next = body.checkpoint === undefined || body.checkpoint === null ? undefined : String(body.checkpoint);
      pages.push({ items: body.items, checkpoint: next, hasMore: body.hasMore === true });
      if (body.hasMore !== true) return { pages };
      if (next === undefined) return fail(`GET ${url} said hasMore but sent no checkpoint to go on from`);
      if (next === checkpoint) return fail(`GET ${url} said hasMore but answered the checkpoint it was given: the pull would never end`);
      if (pages.length >= MAX_PAGES) return fail(`still hasMore after ${MAX_PAGES} pages from ${since ?? 'the beginning'}`);
      checkpoint = next;
    }
  };

  let start: string | undefined;
  let hasCheckpoint = false;
  const a = newId();
  const b = newId();
  const c = newId();
  const d = newId();
  let aRecord: Json | undefined;
  let createdVersion: unknown;

  await step('pull-format', [], async () => {
    const pulled = await pullFrom(undefined);
    if ('status' in pulled) return pulled;
    start = pulled.pages.at(-1)?.checkpoint;
    hasCheckpoint = start !== undefined;
    return pass(
      `${pulled.pages.length} page(s) to the end${hasCheckpoint ? `, checkpoint ${preview(start)}` : '; no checkpoint (clients fall back to the time they asked)'}`,
    );
  });

  await step('create', [], async () => {
    const answer = await probe.send('POST', collection, { key: newKey(), body: { id: a, title: 'rxsync-check', count: 1 } });
    if (!is2xx(answer)) return fail(`POST ${collection} answered ${said(answer)}`);
    if (!isRecord(answer.body, a)) return pass(`${answer.status}, but the body is not the record (${preview(answer.body)}); rxsync does not need it`);
    aRecord = answer.body;
    createdVersion = aRecord.version;
    return pass(`${answer.status} with the record`);
  });

  await step('record-version', ['create'], async () => {
    const version = aRecord?.version;
    const updatedAt = aRecord?.updatedAt;
    const missing = [Number.isFinite(asNumber(version)) ? '' : 'version', typeof updatedAt === 'string' && !Number.isNaN(Date.parse(updatedAt)) ? '' : 'updatedAt'].filter(Boolean);
    return missing.length === 0 ? pass(`version ${preview(version)}, updatedAt ${preview(updatedAt)}`) : unsupported(`the created record has no ${missing.join(' or ')}`);
  });
  const versioned = results.get('record-version')?.status === 'pass';

  await step('create-existing', ['create'], async () => {
    const answer = await probe.send('POST', collection, { key: newKey(), body: { id: a, title: 'duplicate' } });
    if (answer.status !== 409) return fail(`a second POST of id ${a} answered ${said(answer)}`);
    if (!isRecord(answer.body, a)) return fail(`409, but the body is not the current record: ${preview(answer.body)}`);
    if (answer.body.title !== 'rxsync-check') return fail(`409, but the record was changed by the refused request: ${preview(answer.body)}`);
    return pass('409 with the current record, unchanged');
  });

  await step('idempotent-create', [], async () => {
    const key = newKey();
    const body = { id: b, title: 'replayed', count: 1 };
    const first = await probe.send('POST', collection, { key, body });
    if (!is2xx(first)) return fail(`POST ${collection} answered ${said(first)}`);
    const again = await probe.send('POST', collection, { key, body });
    if (again.status !== first.status) return fail(`the repeat answered ${said(again)} instead of ${first.status}`);
    if (!isDeepStrictEqual(again.body, first.body)) return fail(`the repeat answered ${preview(again.body)} instead of ${preview(first.body)}`);
    return pass(`both answered ${first.status}, same body`);
  });

  await step('update', ['create'], async () => {
    const answer = await probe.send('PATCH', path(a), { key: newKey(), body: { title: 'updated' } });
    if (!is2xx(answer)) return fail(`PATCH ${path(a)} answered ${said(answer)}`);
    if (!isRecord(answer.body, a)) return pass(`${answer.status}; the body is not the record, so the merge was not verified`);
    aRecord = answer.body;
    if (answer.body.title !== 'updated') return fail(`the answer does not carry the change: ${preview(answer.body)}`);
    if (answer.body.count !== 1) return fail(`fields not sent were lost: ${preview(answer.body)}`);
    return pass(`${answer.status}, merged`);
  });

  await step('idempotent-update', ['update'], async () => {
    const key = newKey();
    const first = await probe.send('PATCH', path(a), { key, body: { count: 2 } });
    if (!is2xx(first)) return fail(`PATCH ${path(a)} answered ${said(first)}`);
    const again = await probe.send('PATCH', path(a), { key, body: { count: 2 } });
    if (isRecord(again.body, a)) aRecord = again.body;
    if (again.status !== first.status || !isDeepStrictEqual(again.body, first.body)) {
      return fail(`the repeat answered ${said(again)} instead of ${said(first)}`);
    }
    if (!versioned || !isRecord(first.body, a)) return pass(`both answered ${first.status}, same body (applied once: not verifiable without versions)`);
    const probeWrite = await probe.send('PATCH', path(a), { key: newKey(), body: { count: 3 } });
    if (!isRecord(probeWrite.body, a)) return fail(`a further PATCH answered ${said(probeWrite)}`);
    aRecord = probeWrite.body;
    const bump = asNumber(probeWrite.body.version) - asNumber(first.body.version);
    return bump === 1
      ? pass(`both answered ${first.status}, same body; the next write is version +1`)
      : fail(`the next write went from version ${preview(first.body.version)} to ${preview(probeWrite.body.version)}: the repeat was applied again`);
  });

  await step('if-match-current', ['update', 'record-version'], async () => {
    const version = String(aRecord?.version);
    const answer = await probe.send('PATCH', path(a), { key: newKey(), ifMatch: `"${version}"`, body: { title: 'if-match' } });
    if (!is2xx(answer)) return fail(`PATCH with If-Match: "${version}" (the current version) answered ${said(answer)}`);
    if (isRecord(answer.body, a)) aRecord = answer.body;
    return pass(`${answer.status}`);
  });

  await step('if-match-stale', ['update', 'record-version'], async () => {
    const stale = String(createdVersion);
    const answer = await probe.send('PATCH', path(a), { key: newKey(), ifMatch: `"${stale}"`, body: { title: 'stale' } });
    if (is2xx(answer)) {
      const current = aRecord?.version;
      if (isRecord(answer.body, a)) aRecord = answer.body;
      return fail(`PATCH with If-Match: "${stale}" (stale; current is ${preview(current)}) was applied: ${said(answer)}`);
    }
    if (answer.status !== 409 && answer.status !== 412) return fail(`a stale If-Match answered ${said(answer)}, not 409/412`);
    if (!isRecord(answer.body, a) || answer.body.title === 'stale') return fail(`${answer.status}, but the body is not the current record: ${preview(answer.body)}`);
    return pass(`${answer.status} with the current record (version ${preview(answer.body.version)})`);
  });

  await step('update-missing', [], async () => {
    const missing = newId();
    const answer = await probe.send('PATCH', path(missing), { key: newKey(), body: { title: 'ghost' } });
    if (answer.status === 404) return pass('404');
    if (is2xx(answer)) {
      await probe.send('DELETE', path(missing), { key: newKey() }).catch(() => undefined);
      return fail(`PATCH of a record that does not exist answered ${said(answer)}`);
    }
    return fail(`PATCH of a record that does not exist answered ${said(answer)}, not 404`);
  });

  await step('put', ['create'], async () => {
    const created = await probe.send('POST', collection, { key: newKey(), body: { id: d, title: 'to overwrite', count: 1 } });
    if (!is2xx(created)) return fail(`could not create a record to overwrite: ${said(created)}`);
    const answer = await probe.send('PUT', path(d), { key: newKey(), body: { id: d, title: 'overwritten' } });
    if ([404, 405, 501].includes(answer.status)) return unsupported(`PUT answered ${answer.status}: the client-wins strategy cannot be used with this API`);
    if (!is2xx(answer)) return fail(`PUT ${path(d)} answered ${said(answer)}`);
    if (isRecord(answer.body, d) && (answer.body.title !== 'overwritten' || 'count' in answer.body)) {
      return fail(`PUT merged instead of replacing: ${preview(answer.body)}`);
    }
    return pass(`${answer.status}`);
  });

  await step('delete', [], async () => {
    const created = await probe.send('POST', collection, { key: newKey(), body: { id: c, title: 'to delete' } });
    if (!is2xx(created)) return fail(`could not create a record to delete: ${said(created)}`);
    const first = await probe.send('DELETE', path(c), { key: newKey() });
    if (!is2xx(first)) return fail(`DELETE ${path(c)} answered ${said(first)}`);
    const again = await probe.send('DELETE', path(c), { key: newKey() });
    if (again.status === 404) return pass(`${first.status}, then 404`);
    if (is2xx(again)) return pass(`${first.status}, then ${again.status} again (rxsync counts both as done)`);
    return fail(`deleting the record again answered ${said(again)}; rxsync counts only 2xx and 404 as done`);
  });

  let sweep: { items: unknown[]; checkpoint?: string; hasMore: boolean }[] | undefined;
  await step('pull-paging', ['pull-format', 'create'], async () => {
    if (!hasCheckpoint) return unsupported('the pull sends no checkpoint, so there is nothing to page by');
    const pulled = await pullFrom(start, 1);
    if ('status' in pulled) return pulled;
    sweep = pulled.pages;
    const ours = sweep.flatMap((page) => page.items).filter((item) => isRecord(item) && String(item.id).startsWith(prefix));
    const ids = ours.map((item) => String((item as Json).id));
    const checkpoints = sweep.map((page) => page.checkpoint);
    if (checkpoints.some((cp) => cp === undefined)) return fail(`a page came without a checkpoint: ${preview(checkpoints)}`);
    const numeric = checkpoints.map(asNumber);
    if (numeric.every(Number.isFinite) && numeric.some((value, i) => i > 0 && value < numeric[i - 1])) {
      return fail(`the checkpoint went back: ${preview(checkpoints)}`);
    }
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    if (repeated.length > 0) return fail(`${repeated[0]} came more than once in one pull`);
    const end = checkpoints.at(-1) as string;
    const after = await pullFrom(end);
    if ('status' in after) return after;
    const again = after.pages.flatMap((page) => page.items).filter((item) => isRecord(item) && String(item.id).startsWith(prefix));
    if (again.length > 0) return fail(`asking again from the last checkpoint ${preview(end)} returned ${again.length} change(s) already pulled`);
    const paged = sweep.length > 1 && sweep.slice(0, -1).every((page) => page.items.length <= 1);
    return pass(`${sweep.length} page(s)${paged ? ' of 1 (limit honoured)' : ' (limit not honoured; rxsync does not send one)'}, each change once, checkpoints forward`);
  });

  await step('pull-changes', ['pull-paging', 'update'], async () => {
    const items = (sweep ?? []).flatMap((page) => page.items).filter((item): item is Json => isRecord(item));
    const latest = (id: string) => items.filter((item) => String(item.id) === id).at(-1);
    const pulledA = latest(a);
    if (!pulledA) return fail(`${a}, created and updated after the checkpoint, is not in the pull`);
    if (aRecord && pulledA.title !== aRecord.title) return fail(`${a} came as ${preview(pulledA)}, not in its newest state ${preview(aRecord)}`);
    return pass(`created and updated records came, newest state`);
  });

  await step('pull-tombstones', ['pull-paging', 'delete'], async () => {
    const items = (sweep ?? []).flatMap((page) => page.items).filter((item): item is Json => isRecord(item, c));
    const last = items.at(-1);
    if (!last) return fail(`${c}, deleted after the checkpoint, is not in the pull at all`);
    if (last.deleted !== true) return fail(`${c} came as ${preview(last)}, without deleted: true`);
    return pass('the deleted record came as a tombstone');
  });

  await step('retry-after', [], async () => {
    const origin = 'https://rxsync-check.invalid';
    const preflight = await probe.send('OPTIONS', collection, {
      headers: { Origin: origin, 'Access-Control-Request-Method': 'PATCH', 'Access-Control-Request-Headers': 'content-type,idempotency-key,if-match' },
    });
    const simple = await probe.send('GET', collection, { headers: { Origin: origin } });
    const allowOrigin = simple.headers.get('Access-Control-Allow-Origin') ?? preflight.headers.get('Access-Control-Allow-Origin');
    const transient = probe.transient.filter((t) => t.retryAfter === null).map((t) => `${t.request} → ${t.status}`);
    const note = transient.length > 0 ? `; transient answers without Retry-After: ${transient.join(', ')}` : '';
    if (allowOrigin === null) return unsupported(`no CORS headers: fine for apps served from the API's own origin${note}`);
    const list = (value: string | null) => (value ?? '').toLowerCase().split(',').map((s) => s.trim());
    const allowed = list(preflight.headers.get('Access-Control-Allow-Headers'));
    const blocked = ['idempotency-key', 'if-match', 'content-type'].filter((h) => !allowed.includes(h) && !allowed.includes('*'));
    if (blocked.length > 0) return fail(`the preflight does not allow ${blocked.join(', ')}${note}`);
    const exposed = list(simple.headers.get('Access-Control-Expose-Headers'));
    if (!exposed.includes('retry-after') && !exposed.includes('*')) return fail(`Retry-After is not in Access-Control-Expose-Headers${note}`);
    return pass(`allowed and exposed${note}`);
  });

  // Leave nothing live behind; tombstones stay, as they must.
  for (const id of [a, b, d]) await probe.send('DELETE', path(id), { key: newKey() }).catch(() => undefined);
  return [...results.values()];
}
