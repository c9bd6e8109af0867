import { describe, expect, it } from 'vitest';
import { classifyResponse, remoteRecord } from '../src/classifyResponse.js';
import type { SyncOperation } from '../src/types.js';

const write = (operation: SyncOperation = 'update') => ({ operation, data: { id: '7', title: 'mine' } });
const record = { id: '7', title: 'theirs', version: 4 };

describe('classifyResponse', () => {
  it.each([
    [200, undefined, 'update', 'ack', undefined],
    [201, record, 'create', 'ack', undefined],
    [204, undefined, 'delete', 'ack', undefined],
    [200, '<html>Sign in</html>', 'create', 'ack', undefined],
    [404, { error: 'not found' }, 'delete', 'ack', 'already gone'],
    [404, { error: 'not found' }, 'update', 'fail', '404: {"error":"not found"}'],
    [409, record, 'update', 'conflict', undefined],
    [412, record, 'delete', 'conflict', undefined],
    [409, { error: 'conflict' }, 'update', 'conflict', '409 without the current record: {"error":"conflict"}'],
    [412, undefined, 'update', 'conflict', '412 without the current record (empty body)'],
    [409, { type: 'urn:rxsync:problem:idempotency-key-in-use' }, 'create', 'retry', expect.stringMatching(/^409, the server is still processing/)],
    [422, { type: 'urn:rxsync:problem:idempotency-key-mismatch' }, 'create', 'fail', expect.stringMatching(/^422, the server says this Idempotency-Key was already used for a different request \(urn:rxsync:problem:idempotency-key-mismatch\)/)],
    [409, { type: 'https://example.com/problems/idempotency-key-mismatch' }, 'create', 'fail', expect.stringMatching(/already used/)],
    [408, undefined, 'update', 'retry', '408'],
    [425, undefined, 'update', 'retry', '425'],
    [429, { error: 'slow down' }, 'update', 'retry', '429: {"error":"slow down"}'],
    [500, 'Insert failed, duplicate id', 'create', 'retry', '500: "Insert failed, duplicate id"'],
    [503, undefined, 'update', 'retry', '503'],
    [400, { error: 'title is required' }, 'create', 'fail', '400: {"error":"title is required"}'],
    [422, { error: 'bad' }, 'create', 'fail', '422: {"error":"bad"}'],
    [0, undefined, 'create', 'fail', expect.stringMatching(/^a redirect \(the browser hides where to\): pushes never follow redirects/)],
    [302, undefined, 'create', 'fail', expect.stringMatching(/^302 \(the browser hides where to\)/)],
    // The edges of each range.
    [299, undefined, 'update', 'ack', undefined],
    [300, undefined, 'update', 'fail', expect.stringMatching(/^300 \(the browser hides where to\): pushes never follow redirects/)],
    [399, undefined, 'update', 'fail', expect.stringMatching(/^399 \(the browser hides where to\)/)],
    [199, undefined, 'update', 'fail', '199'],
    [599, undefined, 'update', 'retry', '599'],
    [600, undefined, 'update', 'fail', '600'],
    // An idempotency problem means "key in use" or "key reused" only with the statuses that say so.
    [412, { type: 'urn:rxsync:problem:idempotency-key-in-use' }, 'update', 'retry', expect.stringMatching(/^412, the server is still processing/)],
    [422, { type: 'urn:rxsync:problem:idempotency-key-in-use' }, 'create', 'fail', expect.stringMatching(/^422, the server says this Idempotency-Key was already used/)],
    [400, { type: 'urn:rxsync:problem:idempotency-key-in-use' }, 'create', 'fail', '400: {"type":"urn:rxsync:problem:idempotency-key-in-use"}'],
    // A `type` that is not a string names no problem; a body of JSON `null` is no record.
    [409, { type: ['idempotency-key-in-use'] }, 'update', 'conflict', '409 without the current record: {"type":["idempotency-key-in-use"]}'],
    [409, null, 'update', 'conflict', expect.stringMatching(/^409 without the current record/)],
    // A problem+json conflict of another type is an ordinary conflict, never a retry.
    [409, { type: 'https://example.com/problems/edit-conflict' }, 'update', 'conflict', '409 without the current record: {"type":"https://example.com/problems/edit-conflict"}'],
  ] as const)('%i %j to a %s → %s', (status, body, operation, kind, reason) => {
    const outcome = classifyResponse({ status, body }, write(operation));
    expect(outcome.kind).toBe(kind);
    expect(outcome.reason).toEqual(reason);
  });

  it('a 3xx names its Location', () => {
    expect(classifyResponse({ status: 301, body: undefined }, write(), { location: 'https://login.example.com/' }).reason).toMatch(
      /^301 to https:\/\/login\.example\.com\/: pushes never follow redirects, so the write did not reach its endpoint\. Point baseUrl or the endpoint at the final URL$/,
    );
  });
});

describe('remoteRecord', () => {
  it('is the body when it is a JSON object naming the record', () => {
    expect(remoteRecord({ body: record }, write())).toBe(record);
    expect(remoteRecord({ body: { id: 7 } }, write())).toEqual({ id: 7 });
    expect(remoteRecord({ body: { id: 's1' } }, { data: {} })).toEqual({ id: 's1' });
    expect(remoteRecord({ body: record })).toBe(record);
  });

  it.each([
    ['no body', undefined],
    ['text', 'Conflict'],
    ['an array', [record]],
    ['null', null],
    ['an error object', { error: 'conflict' }],
    ['problem+json', { type: 'about:blank', title: 'Conflict', status: 409 }],
    ['another record', { id: '8', title: 'other' }],
  ])('is undefined for %s', (_name, body) => {
    expect(remoteRecord({ body }, write())).toBeUndefined();
  });
});
