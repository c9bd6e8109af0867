import type { PulledBatch, SyncEvent, SyncItem, SyncStatusInfo } from '../types.js';

/** Engine actions a follower asks the leader to run on the shared outbox. */
export type TabCall = 'flush' | 'pull' | 'fullSync' | 'clearQueue' | 'reprocessFailed';

/** What a follower asks of the leader. */
export type TabRequest = { kind: 'write'; item: SyncItem } | { kind: 'call'; call: TabCall };

/** The shared outbox as the leader shows it to every tab. */
export interface TabState {
  queue: readonly SyncItem[];
  failed: readonly SyncItem[];
  status: SyncStatusInfo;
}

/** Every message on the outbox's channel. `from`/`to` are tab ids; `epoch` tells the newest leader. */
export type TabMessage =
  | { type: 'hello'; from: string }
  | { type: 'leader'; from: string; epoch: number }
  | { type: 'request'; from: string; id: string; request: TabRequest }
  | { type: 'received'; to: string; id: string }
  | { type: 'reply'; to: string; id: string; value?: unknown; error?: string }
  /** What changed of the leader's state (all of it, to a tab that just said hello). */
  | { type: 'state'; from: string; state: Partial<TabState> }
  | { type: 'event'; from: string; event: SyncEvent }
  | { type: 'pulled'; from: string; batch: PulledBatch }
  /** What one tab said in one turn of its event loop, in one message (a burst of writes is one). */
  | { type: 'batch'; messages: TabMessage[] };

/** The part of `BroadcastChannel` the tabs use. */
export interface TabChannel {
  /** Sends a message to every other tab listening on the channel. */
  postMessage(message: unknown): void;
  /** Listens to the other tabs' messages. */
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** Stops listening and sending. */
  close(): void;
}

const TYPES = new Set(['hello', 'leader', 'request', 'received', 'reply', 'state', 'event', 'pulled', 'batch']);

/** Another script on the origin may use the same channel name: only well-formed messages count. */
export function isTabMessage(data: unknown): data is TabMessage {
  return typeof data === 'object' && data !== null && TYPES.has((data as { type?: unknown }).type as string);
}
