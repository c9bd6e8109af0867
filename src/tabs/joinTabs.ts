import { browserTabs } from '../browser/browserTabs.js';
import type { ResolvedOptions } from '../engineOptions.js';
import { outboxName } from '../outboxHandover.js';
import type { SyncStorage } from '../types.js';
import { TabSession } from './tabSession.js';

/**
 * This engine's place in the outbox shared by the origin's tabs, where they can share one:
 * Web Locks and a `BroadcastChannel` (the browser's, or the `tabs` option's), and `tabs` not
 * `false`. Elsewhere, undefined: the engine keeps its outbox to itself.
 */
export function joinTabs(options: ResolvedOptions<string>, storage: SyncStorage): TabSession | undefined {
  if (!options.tabs) return undefined;
  const environment = browserTabs();
  const locks = options.tabs.locks ?? environment.locks;
  const channel = options.tabs.channel ?? environment.channel;
  if (!locks || !channel) return undefined;
  const name = outboxName(storage, options.storageKey);
  return new TabSession({
    name,
    locks,
    channel: channel(name),
    storage,
    epochKey: `${options.storageKey}:outbox:epoch`,
    takeoverMs: options.tabs.takeoverMs,
    scheduler: options.scheduler,
  });
}
