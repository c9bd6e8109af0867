/**
 * Who may talk to the reference server: the `Host` and `Origin` allow-lists (loopback by
 * default), the CORS headers for allowed origins, and the `authorize` hook's types.
 */
import type { IncomingMessage } from 'node:http';

/** What `authorize` answers: the caller's principal, or a refusal. */
export type AuthorizeResult =
  | { principal: string }
  | {
      /** 401 (no or bad credentials) or 403 (known caller, not allowed). */
      reject: 401 | 403;
      /** Shown to the caller; say what to do. */
      message?: string;
      /** e.g. `{ 'WWW-Authenticate': 'Bearer' }`. */
      headers?: Record<string, string>;
    };

/**
 * Decides who sent a request (every API and admin request; not CORS preflights or static files).
 * The principal scopes idempotency keys and the rate limit. A throw is answered 500.
 */
export type Authorize = (request: IncomingMessage) => AuthorizeResult | Promise<AuthorizeResult>;

/** The principal of every request when no `authorize` hook is given. */
export const ANONYMOUS = 'anonymous';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** The host name of a `Host` header value, without the port, lower case. */
function hostName(host: string): string {
  const text = host.trim().toLowerCase();
  if (text.startsWith('[')) return text.slice(0, text.indexOf(']') + 1);
  const colon = text.lastIndexOf(':');
  return colon === -1 ? text : text.slice(0, colon);
}

/**
 * Whether the `Host` header names this server. Checking it defeats DNS rebinding: a page whose
 * name resolves to 127.0.0.1 still sends its own name as `Host`.
 * @param allowed host names (no port), or '*' for any; default loopback names
 */
export function hostAllowed(host: string | null, allowed: readonly string[] | '*' | undefined): boolean {
  if (allowed === '*') return true;
  if (host === null) return false;
  const name = hostName(host);
  return allowed === undefined ? LOOPBACK_NAMES.has(name) : allowed.some((entry) => entry.toLowerCase() === name);
}

/**
 * Whether a browser page of this origin may call the server.
 * @param allowed exact origins such as `https://app.example.com`, or '*'; default any loopback origin
 */
export function originAllowed(origin: string, allowed: readonly string[] | '*' | undefined): boolean {
  if (allowed === '*') return true;
  if (allowed !== undefined) return allowed.includes(origin);
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_NAMES.has(url.hostname);
  } catch {
    return false;
  }
}

/** CORS headers for an allowed origin (echoed, never `*`, so credentials could be allowed later). */
export function corsHeaders(origin: string): Record<string, string> {
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': 'GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Content-Type, Idempotency-Key, If-Match, Authorization, Last-Event-ID',
    'Access-Control-Expose-Headers': 'Retry-After, ETag, Location, Idempotent-Replayed',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}
