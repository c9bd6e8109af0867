/** Small node:http helpers of the reference server: JSON bodies in, JSON answers out, both bounded. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An answer the router produces; `send` writes it. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A refusal with a status and a message that is safe to show the caller. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** Reads the whole body as text (at most `maxBytes`, else HttpError 413). */
export async function readText(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(header(req, 'content-length') ?? NaN);
  if (declared > maxBytes) throw new HttpError(413, `Request body is larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBytes) throw new HttpError(413, `Request body is larger than ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** True for `application/json` and any `application/*+json` media type. */
export function isJsonMediaType(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/**
 * Reads a JSON request body. Anything but a JSON media type is refused with 415 (so no web page
 * can send a "simple" cross-origin request that skips the CORS preflight); an empty body is
 * `undefined`; malformed JSON or JSON nested deeper than `maxDepth` is 400.
 */
export async function readJson(req: IncomingMessage, limits: { maxBytes: number; maxDepth: number }): Promise<unknown> {
  const text = await readText(req, limits.maxBytes);
  if (text.trim() === '') return undefined;
  if (!isJsonMediaType(header(req, 'content-type'))) {
    throw new HttpError(415, 'Request bodies must be JSON: send them with Content-Type: application/json');
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'Request body is not valid JSON');
  }
  if (depthExceeds(value, limits.maxDepth)) {
    throw new HttpError(400, `Request body is nested deeper than ${limits.maxDepth} levels`);
  }
  return value;
}

/** Whether arrays/objects nest deeper than `max` (iterative: a deep value must not overflow the stack here). */
export function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** A single header value (the first one if repeated), or null. */
export function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

/**
 * Writes a reply. The body is serialised here, so a body that cannot be serialised or is larger
 * than `maxBytes` becomes a 500 with a plain message instead of an exception on the socket.
 * Returns the status actually sent.
 */
export function send(res: ServerResponse, reply: Reply, maxBytes: number): number {
  if (res.headersSent || res.destroyed) return reply.status;
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...reply.headers };
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, headers).end();
    return reply.status;
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(reply.body);
  } catch {
    text = undefined;
  }
  if (text === undefined || text.length > maxBytes || Buffer.byteLength(text) > maxBytes) {
    return send(res, jsonError(500, `The answer would be larger than ${maxBytes} bytes; ask for less at a time`), maxBytes);
  }
  res
    .writeHead(reply.status, {
      'Content-Type': headers['Content-Type'] ?? 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      ...headers,
    })
    .end(text);
  return reply.status;
}

export function jsonError(status: number, message: string, headers?: Record<string, string>): Reply {
  return { status, body: { error: message }, headers };
}
