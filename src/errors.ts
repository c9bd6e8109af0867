/**
 * Every error rxsync raises is one of these classes, with a fixed `name` (so it survives
 * bundling and structured cloning) and a message that starts with `[rxsync]` and says
 * what was wrong and what to do.
 */
abstract class RxsyncError extends Error {
  protected constructor(message: string, options?: { cause?: unknown }) {
    super(message.startsWith('[rxsync]') ? message : `[rxsync] ${message}`, options);
  }
}

/** A write the engine cannot accept; nothing was queued. */
export class SyncInputError extends RxsyncError {
  override readonly name = 'SyncInputError';
  constructor(
    message: string,
    /** The write as it was handed in. */
    readonly write?: unknown,
  ) {
    super(message);
  }
}

/** An option is missing or unusable; thrown when the engine or transport is built, before anything runs. */
export class SyncOptionsError extends RxsyncError {
  override readonly name = 'SyncOptionsError';
  constructor(message: string) {
    super(message);
  }
}

/** A server answered with a status the engine treats as a failure, or with a body it cannot read. */
export class SyncHttpError extends RxsyncError {
  override readonly name = 'SyncHttpError';
  constructor(
    message: string,
    /** The HTTP status; 0 when no response arrived. */
    readonly status: number,
    /** The answer's parsed body, when there was one. */
    readonly body?: unknown,
    /** What the server asked for in `Retry-After`, in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }

  /** 408, 425, 429, 5xx and no response at all (status 0) are worth retrying. */
  get transient(): boolean {
    return isTransientStatus(this.status);
  }
}

/** The server holds a different version of the record (HTTP 409). */
export class SyncConflictError extends RxsyncError {
  override readonly name = 'SyncConflictError';
  constructor(
    message: string,
    /** The record as the server holds it (the 409's body). */
    readonly remoteData: unknown,
  ) {
    super(message);
  }
}

/** The storage refused a read or write; `key` names what was being touched. */
export class SyncStorageError extends RxsyncError {
  override readonly name = 'SyncStorageError';
  constructor(
    message: string,
    /** The storage key that was being read or written. */
    readonly key?: string,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/**
 * Whether an HTTP status is worth retrying: 408, 425, 429, every 5xx, and 0 (no response
 * at all). Every other status is final: the engine dead-letters the write.
 */
export function isTransientStatus(status: number): boolean {
  return status === 0 || status === 408 || status === 425 || status === 429 || status >= 500;
}

/** A one-line description of anything thrown, for events and `lastError`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** {@link describeError} without the leading `[rxsync] `, to quote inside another message of ours. */
export function withoutPrefix(error: unknown): string {
  return describeError(error).replace(/^\[rxsync\] /, '');
}

/** A short rendering of any value for a message: JSON where it can be, cut at `max` characters. */
export function preview(value: unknown, max = 80): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // a cycle or a BigInt: String() will do
  }
  text ??= String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `: <body>` to end a message with what the server said, cut to 200 characters; nothing for an empty body. */
export function bodySuffix(body: unknown): string {
  return body === undefined || body === '' ? '' : `: ${preview(body, 200)}`;
}
