/** A raw reader of the server's `/_events` stream for the specs: one frame (event or comment) at a time. */
import type { SyncServer } from '../../server/index.js';

export interface EventStreamReader {
  response: Response;
  /** The next frame without its blank line, e.g. `event: poke\nid: 3\ndata: 3`; undefined once the stream ended. */
  next(): Promise<string | undefined>;
  close(): void;
}

export async function openEvents(server: SyncServer, options: { headers?: Record<string, string>; query?: string } = {}): Promise<EventStreamReader> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/_events${options.query ?? ''}`, { headers: options.headers, signal: controller.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  return {
    response,
    async next() {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          return frame;
        }
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return undefined;
        buffer += value;
      }
    },
    close: () => controller.abort(),
  };
}

/** The frame of a poke at `position`. */
export const poke = (position: string | number): string => `event: poke\nid: ${position}\ndata: ${position}`;

/** How many `/_events` streams the server has open (admin `GET /__stats`). */
export async function openStreams(server: SyncServer, headers: Record<string, string> = {}): Promise<number> {
  const answer = await fetch(`${server.url}/__stats`, { headers });
  return ((await answer.json()) as { eventStreams: number }).eventStreams;
}
