import type { SyncEvent, TelemetryClient } from './types.js';

type Flat = { tags: Record<string, string>; metrics: Record<string, number> };

/**
 * The `trackEvent` payload of an event: its strings (and the entity and operation of its
 * item, the strategy and outcome of a conflict) as tags to group by, its numbers as metrics.
 */
export function toTelemetry(event: SyncEvent): Flat {
  const flat: Flat = { tags: {}, metrics: {} };
  const add = (fields: object): void => {
    for (const [key, value] of Object.entries(fields)) {
      if (key === 'type' || key === 'timestamp') continue;
      if (typeof value === 'string' || typeof value === 'boolean') flat.tags[key] = String(value);
      else if (typeof value === 'number') flat.metrics[key] = value;
    }
  };
  add(event);
  if ('item' in event) add({ entity: event.item.entity, operation: event.item.operation, retryCount: event.item.retryCount });
  if (event.type === 'conflict') {
    add({ entity: event.conflict.entity, operation: event.conflict.localItem.operation });
    add({ strategy: event.resolution.strategy, outcome: event.resolution.outcome });
  }
  if (event.type === 'sync-complete') add(event.result);
  return flat;
}

/** Sends an event to the client; a client that throws must not take the engine down with it. */
export function track(client: TelemetryClient, source: string, event: SyncEvent): unknown {
  try {
    client.trackEvent('rxsync', source, event.type, toTelemetry(event));
    return undefined;
  } catch (error) {
    return error;
  }
}
