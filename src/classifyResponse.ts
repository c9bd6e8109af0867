import { bodySuffix } from './errors.js';
import { recordIdOf } from './recordFields.js';
import type { SyncItem, TransportResponse } from './types.js';

/**
 * What an answer to a push means for its write: `ack` (delivered, leaves the outbox),
 * `conflict` (the server holds another version: the entity's strategy decides), `retry`
 * (try the same request again later) or `fail` (permanent: the write becomes a dead letter).
 */
export type PushOutcomeKind = 'ack' | 'conflict' | 'retry' | 'fail';

/** A {@link PushOutcomeKind} and, where the kind alone does not say it, why. */
export interface PushOutcome {
  /** What happens to the write: acked, resolved as a conflict, retried, or dead-lettered. */
  kind: PushOutcomeKind;
  /**
   * A short human-readable detail for events and `lastError` (no `[rxsync]` prefix):
   * `'already gone'` for a DELETE answered 404, the Location of a redirect, what the
   * server said with a retry or a refusal.
   */
  reason?: string;
}

/**
 * The default reading of an answer to a push:
 *
 * - `2xx` → `ack`, whatever the body (an HTML page served with 200 counts as delivered: only
 *   the status is trusted). A `DELETE` answered `404` → `ack` with `reason: 'already gone'`.
 * - `409` and `412` → `conflict`; its `reason` says so when the body is not a usable current
 *   record (see {@link remoteRecord}). Except an idempotency problem (a JSON body whose `type`
 *   contains `idempotency`, as in problem+json): "this key is still being processed" → `retry`,
 *   "this key was used for a different request" (`type` containing `mismatch`, or status `422`) → `fail`.
 * - `408`, `425`, `429`, `5xx` → `retry`.
 * - `3xx` → `fail` naming the Location: a push that was redirected did not reach its target
 *   (pushes never follow redirects). Status `0` is what a browser shows for a redirect it did
 *   not follow (an `opaqueredirect`); it fails the same way.
 * - any other `4xx` (or a status outside 100–599) → `fail`.
 *
 * Every `retry` and `fail` reason carries the status and up to 200 characters of the body.
 *
 * @param redirect The `Location` header of a `3xx` answer, when known, for the reason.
 */
export function classifyResponse(
  response: TransportResponse,
  item: Pick<SyncItem, 'operation' | 'data'>,
  redirect?: { location?: string | null },
): PushOutcome {
  const { status, body } = response;
  if (status >= 200 && status < 300) return { kind: 'ack' };
  if (status === 404 && item.operation === 'delete') return { kind: 'ack', reason: 'already gone' };
  const said = bodySuffix(body);
  const idempotency = idempotencyProblem(body);
  if (idempotency !== undefined && (status === 409 || status === 412 || status === 422)) {
    return idempotency.includes('mismatch') || status === 422
      ? { kind: 'fail', reason: `${status}, the server says this Idempotency-Key was already used for a different request (${idempotency}). It cannot be sent under this key: clear it and write it again` }
      : { kind: 'retry', reason: `${status}, the server is still processing an earlier request with this Idempotency-Key (${idempotency})` };
  }
  if (status === 409 || status === 412) {
    return remoteRecord(response, item) === undefined ? { kind: 'conflict', reason: `${status} without the current record${said || ' (empty body)'}` } : { kind: 'conflict' };
  }
  if (status === 408 || status === 425 || status === 429 || (status >= 500 && status < 600)) return { kind: 'retry', reason: `${status}${said}` };
  if (status === 0 || (status >= 300 && status < 400)) {
    const where = redirect?.location ? `to ${redirect.location}` : '(the browser hides where to)';
    return {
      kind: 'fail',
      reason: `${status === 0 ? 'a redirect' : status} ${where}: pushes never follow redirects, so the write did not reach its endpoint. Point baseUrl or the endpoint at the final URL`,
    };
  }
  return { kind: 'fail', reason: `${status}${said}` };
}

/** Whether a value has the shape of a {@link TransportResponse}: an object with a numeric `status`. */
export function isTransportResponse(value: unknown): value is TransportResponse {
  return typeof value === 'object' && value !== null && typeof (value as { status?: unknown }).status === 'number';
}

/**
 * The server's current record in a conflict answer, or `undefined` when the body is not one:
 * not a JSON object, or an object without an `id` (an error object such as `{ "error": … }`
 * or a problem+json document). When `item` is given, the record's `id` must be the id the
 * write names, so an error object that happens to echo some other id is not taken for it.
 */
export function remoteRecord(response: Pick<TransportResponse, 'body'>, item?: Pick<SyncItem, 'data'>): Record<string, unknown> | undefined {
  const { body } = response;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const id = recordIdOf(body);
  if (id === undefined) return undefined;
  const wanted = item && recordIdOf(item.data);
  if (wanted !== undefined && String(wanted) !== String(id)) return undefined;
  return body as Record<string, unknown>;
}

/** The `type` of a body that reports an idempotency-key problem (problem+json or alike). */
function idempotencyProblem(body: unknown): string | undefined {
  const type = body !== null && typeof body === 'object' ? (body as { type?: unknown }).type : undefined;
  return typeof type === 'string' && /idempotency/i.test(type) ? type : undefined;
}
