/** A body as JSON when it parses, else as text; `undefined` when empty. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The longest wait a server's `Retry-After` may ask for unless `maxRetryAfterMs` says otherwise: one hour. */
export const DEFAULT_MAX_RETRY_AFTER_MS = 3_600_000;
/** Timers fire at once beyond this (a signed 32-bit millisecond count). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `Retry-After` in milliseconds: whole or decimal seconds, or an HTTP date (a date in the
 * past is 0). Cut to `maxMs` (default one hour) and never above 2^31−1, which timers cannot
 * wait; a negative, empty or unreadable value is `undefined` (ignored), never 0.
 */
export function parseRetryAfter(header: string | null, now = Date.now(), maxMs = DEFAULT_MAX_RETRY_AFTER_MS): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) ms = Number(text) * 1000;
  // A date names a day or month; a bare number that is not a plain count of seconds is garbage.
  else if (/[a-z]/i.test(text)) ms = Math.max(0, Date.parse(text) - now);
  else return undefined;
  return Number.isNaN(ms) ? undefined : Math.min(ms, maxMs, MAX_TIMER_MS);
}
