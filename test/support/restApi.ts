import { http, HttpResponse, type JsonBodyType } from 'msw';
import { setupServer } from 'msw/node';

export const API = 'http://api.test';

export interface RecordedRequest {
  method: string;
  path: string;
  key: string | null;
  ifMatch: string | null;
  body: unknown;
}

type Override = (request: RecordedRequest, attempt: number) => Response | undefined | Promise<Response | undefined>;

/**
 * A REST backend for msw: records live in memory, a repeated Idempotency-Key replays the
 * first answer, and `override` lets a test answer any request its own way first.
 */
export function restApi() {
  const records = new Map<string, Record<string, unknown>>();
  const replies = new Map<string, { status: number; body: JsonBodyType }>();
  const requests: RecordedRequest[] = [];
  /** How many times the server changed something for each idempotency key. */
  const applied = new Map<string, number>();
  let override: Override | undefined;
  let loseAnswer: ((request: RecordedRequest, attempt: number) => boolean) | undefined;
  let nextId = 1;

  /** 1 for the first request with this key and method, 2 for its first retry, … */
  const attemptOf = (recorded: RecordedRequest): number =>
    requests.filter((r) => r.key === recorded.key && r.method === recorded.method).length;

  const answer = (key: string | null, status: number, body: JsonBodyType): Response => {
    if (key) {
      replies.set(key, { status, body });
      if (status < 300) applied.set(key, (applied.get(key) ?? 0) + 1);
    }
    return HttpResponse.json(body, { status });
  };

  const handle = async (request: Request, params: { entity: string; id?: string }) => {
    const text = request.method === 'DELETE' || request.method === 'GET' ? '' : await request.text();
    const recorded: RecordedRequest = {
      method: request.method,
      path: new URL(request.url).pathname,
      key: request.headers.get('Idempotency-Key'),
      ifMatch: request.headers.get('If-Match'),
      body: text ? JSON.parse(text) : undefined,
    };
    requests.push(recorded);
    const custom = await override?.(recorded, attemptOf(recorded));
    if (custom) return custom;
    const replay = recorded.key ? replies.get(recorded.key) : undefined;
    if (replay) return HttpResponse.json(replay.body, { status: replay.status });
    const body = recorded.body as Record<string, unknown> | undefined;
    const recordKey = `${params.entity}/${params.id ?? body?.id}`;
    switch (request.method) {
      case 'POST': {
        const id = String(body?.id ?? `s${nextId++}`);
        const key = `${params.entity}/${id}`;
        if (records.has(key)) return answer(recorded.key, 409, records.get(key) as JsonBodyType);
        records.set(key, { ...body, id });
        return answer(recorded.key, 201, records.get(key) as JsonBodyType);
      }
      case 'PATCH': {
        const current = records.get(recordKey);
        if (!current) return answer(recorded.key, 404, { error: 'not found' });
        records.set(recordKey, { ...current, ...body });
        return answer(recorded.key, 200, records.get(recordKey) as JsonBodyType);
      }
      case 'PUT':
        records.set(recordKey, { ...body });
        return answer(recorded.key, 200, records.get(recordKey) as JsonBodyType);
      case 'DELETE':
        if (!records.delete(recordKey)) return answer(recorded.key, 404, { error: 'not found' });
        return answer(recorded.key, 200, {});
    }
    return HttpResponse.json({ error: 'method' }, { status: 405 });
  };

  /** The backend's answer, unless the test wants it lost on the way back (the server did the work all the same). */
  const serve = async (request: Request, params: { entity: string; id?: string }) => {
    const key = request.headers.get('Idempotency-Key');
    const response = await handle(request, params);
    const recorded = requests.findLast((r) => r.key === key && r.method === request.method);
    return recorded && loseAnswer?.(recorded, attemptOf(recorded)) ? HttpResponse.error() : response;
  };

  const batches: number[] = [];
  const server = setupServer(
    http.post(`${API}/_batch`, async ({ request }) => {
      const subRequests = (await request.json()) as { key: string; method: string; path: string; body?: unknown; ifMatch?: string }[];
      batches.push(subRequests.length);
      const results = [];
      for (const sub of subRequests) {
        const headers: Record<string, string> = { 'Idempotency-Key': sub.key };
        if (sub.ifMatch !== undefined) headers['If-Match'] = sub.ifMatch;
        const [, entity, id] = sub.path.split('/');
        const single = new Request(`${API}${sub.path}`, { method: sub.method, headers, body: sub.body === undefined ? undefined : JSON.stringify(sub.body) });
        const response = await handle(single, { entity, id });
        results.push({ key: sub.key, status: response.status, body: await response.json() });
      }
      return HttpResponse.json({ results });
    }),
    http.all(`${API}/:entity/:id`, ({ request, params }) => serve(request, params as { entity: string; id: string })),
    http.post(`${API}/:entity`, ({ request, params }) => serve(request, params as { entity: string })),
  );

  return {
    server,
    records,
    requests,
    applied,
    /** The size of every batch request, in order. */
    batches,
    /** Answer requests your own way; return undefined to let the normal backend answer. */
    override(fn: Override | undefined) {
      override = fn;
    },
    /** Lose the answer to the requests `fn` picks: the server applies them, the client sees a network error. */
    loseAnswers(fn: ((request: RecordedRequest, attempt: number) => boolean) | undefined) {
      loseAnswer = fn;
    },
    reset() {
      records.clear();
      replies.clear();
      requests.length = 0;
      batches.length = 0;
      applied.clear();
      nextId = 1;
      override = undefined;
      loseAnswer = undefined;
      server.resetHandlers();
    },
  };
}
