import type { TabLocks } from '../tabs/leadership.js';
import type { TabChannel } from '../tabs/tabMessages.js';

/** What tabs need to share one outbox: a lock manager to elect the leader, a channel to talk over. */
export interface TabEnvironment {
  locks: TabLocks;
  channel: (name: string) => TabChannel;
}

/**
 * The browser's Web Locks and `BroadcastChannel`, where both exist. Node has a
 * `BroadcastChannel` but no `navigator.locks`, so there each engine keeps its outbox to itself.
 */
export function browserTabs(): Partial<TabEnvironment> {
  const locks = typeof navigator === 'undefined' ? undefined : (navigator as { locks?: TabLocks }).locks;
  const Channel = typeof BroadcastChannel === 'function' ? BroadcastChannel : undefined;
  return {
    ...(locks ? { locks } : {}),
    ...(Channel ? { channel: (name: string) => new Channel(name) } : {}),
  };
}
