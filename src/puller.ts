import { firstValueFrom, type Observable, takeUntil } from 'rxjs';
import { describeError } from './errors.js';
import type { OutboxStore } from './outboxStore.js';
import type { PullPosition } from './pullPosition.js';
import type { EntityConfig, SyncEvent, SyncTransport } from './types.js';

export interface PullerOptions<E extends string> {
  entities: Record<E, EntityConfig>;
  transport: SyncTransport;
  /** Where checkpoints (with the transport's state) live. */
  store: Pick<OutboxStore, 'loadCheckpoint' | 'saveCheckpoint'>;
  now: () => number;
  /** Aborts the requests under way. */
  stop$: Observable<unknown>;
  /** Hands a page to the app (onPull, pulled$); the checkpoint moves only once it resolved. */
  apply: (entity: E, items: unknown[]) => Promise<void>;
  report: (event: SyncEvent, error?: unknown) => void;
}

/**
 * Pulls remote changes: `GET {endpoint}?since={checkpoint}` per entity, following `hasMore`
 * pages. A page's checkpoint (the server's, else the time the request was sent) and the
 * transport's state are saved together, only after the app has applied the page, so a crash
 * or a failing `onPull` means the page comes again, never that it is skipped. Pulls run one
 * after another, so two never race on a checkpoint.
 */
export class Puller<E extends string> {
  private readonly positions = new Map<E, PullPosition>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PullerOptions<E>) {}

  /** Items pulled over all entities, and how many entities failed. */
  pull(): Promise<{ pulled: number; errors: number }> {
    const run = this.chain.then(async () => {
      const entities = Object.keys(this.options.entities) as E[];
      const counts = await Promise.all(entities.map((entity) => this.pullEntity(entity)));
      return {
        pulled: counts.reduce<number>((sum, count) => sum + (count ?? 0), 0),
        errors: counts.filter((count) => count === undefined).length,
      };
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Every page of one entity; the number of items, or undefined when it failed. */
  private async pullEntity(entity: E): Promise<number | undefined> {
    const { entities, transport, store, now, stop$, apply, report } = this.options;
    const { endpoint } = entities[entity];
    let count = 0;
    try {
      if (!this.positions.has(entity)) this.positions.set(entity, await store.loadCheckpoint(entity));
      for (;;) {
        const sentAt = new Date(now()).toISOString();
        const position = this.positions.get(entity) ?? {};
        const request = transport.pull({ entity, endpoint, since: position.checkpoint, state: position.state });
        const page = await firstValueFrom(request.pipe(takeUntil(stop$)), { defaultValue: undefined });
        if (!page) return count; // stopped
        try {
          await apply(entity, page.items);
        } catch (error) {
          report({ type: 'callback-error', callback: 'onPull', error: `[rxsync] onPull threw: ${describeError(error)}` });
          throw new Error(`onPull threw for "${entity}", so its checkpoint stays where it was: ${describeError(error)}`);
        }
        const checkpoint = page.checkpoint ?? sentAt;
        // An unchanged position (say, a 304 in snapshot mode) need not rewrite a large state.
        if (checkpoint !== position.checkpoint || page.state !== position.state) {
          const next = { checkpoint, state: page.state };
          await store.saveCheckpoint(entity, next);
          this.positions.set(entity, next);
        }
        count += page.items.length;
        report({ type: 'pulled', entity, count: page.items.length, checkpoint });
        if (!page.hasMore) return count;
      }
    } catch (error) {
      report({ type: 'pull-failed', entity, error: describeError(error) }, error);
      return undefined;
    }
  }
}
