import type { SyncEvent, TelemetryClient } from './types.js';

/** The `trackEvent` arguments for an event: string tags to group by, numbers to chart. */
export function toTelemetry(event: SyncEvent): { tags: Record<string, string>; metrics: Record<string, number> } {
  switch (event.type) {
    case 'pushed':
      return { tags: itemTags(event.item), metrics: { status: event.status, retryCount: event.item.retryCount } };
    case 'retried':
      return { tags: { ...itemTags(event.item), error: event.error }, metrics: { attempt: event.attempt, delayMs: event.delayMs } };
    case 'dead-lettered':
      return { tags: { ...itemTags(event.item), error: event.error }, metrics: { retryCount: event.item.retryCount } };
    case 'conflict':
      return {
        tags: { ...itemTags(event.conflict.localItem), strategy: event.resolution.strategy, outcome: event.resolution.outcome },
        metrics: {},
      };
    case 'pulled':
      return { tags: { entity: event.entity }, metrics: { count: event.count } };
    case 'pull-failed':
      return { tags: { entity: event.entity, error: event.error }, metrics: {} };
    case 'sync-complete': {
      const { success, timestamp: _timestamp, ...counts } = event.result;
      return { tags: { success: String(success) }, metrics: counts };
    }
    case 'input-dropped':
    case 'storage-error':
      return { tags: { error: event.error }, metrics: {} };
    case 'callback-error':
      return { tags: { callback: event.callback, error: event.error }, metrics: {} };
  }
}

function itemTags(item: { entity: string; operation: string }): Record<string, string> {
  return { entity: item.entity, operation: item.operation };
}

/** Sends an event to the client; a client that throws must not take the engine down with it. */
export function track(client: TelemetryClient, source: string, event: SyncEvent): unknown {
  try {
    const { tags, metrics } = toTelemetry(event);
    client.trackEvent('rxsync', source, event.type, { tags, metrics });
    return undefined;
  } catch (error) {
    return error;
  }
}
