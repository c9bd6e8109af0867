/** Where the pull of one entity stands: the server's checkpoint and what the transport asked to keep. */
export interface PullPosition {
  checkpoint?: string;
  /** The transport's own JSON data (`PullPage.state`), handed back on the next pull. */
  state?: unknown;
}

interface StoredPosition {
  v: 1;
  checkpoint?: string;
  state: unknown;
}

/**
 * How a position is stored: a bare checkpoint string while there is no state (the format
 * every earlier version wrote and reads), else a versioned object.
 */
export function encodePosition({ checkpoint, state }: PullPosition): string | StoredPosition | null {
  if (state === undefined) return checkpoint ?? null;
  return checkpoint === undefined ? { v: 1, state } : { v: 1, checkpoint, state };
}

/** Reads what {@link encodePosition} wrote; anything unreadable starts from the beginning. */
export function decodePosition(value: unknown): PullPosition {
  if (typeof value === 'string') return { checkpoint: value };
  const stored = value as StoredPosition | null;
  if (typeof stored !== 'object' || stored === null || stored.v !== 1) return {};
  return { checkpoint: typeof stored.checkpoint === 'string' ? stored.checkpoint : undefined, state: stored.state };
}
