import { BehaviorSubject, firstValueFrom, type Observable, Subject, takeUntil } from 'rxjs';
import { describeError } from './errors.js';
import type { OutboxStore } from './outboxStore.js';
import type { PullPosition } from './pullPosition.js';
import { withPendingWrites } from './readYourWrites.js';
import { recordIdOf } from './recordFields.js';
import type { EntityConfig, PullInfo, PulledBatch, SyncEvent, SyncItem, SyncTransport } from './types.js';

export interface PullerOptions<E extends string> {
  entities: Record<E, EntityConfig>;
  transport: SyncTransport;
  /** Where checkpoints (with the transport's state) live. */
  store: Pick<OutboxStore, 'loadCheckpoint' | 'saveCheckpoint'>;
  /** Aborts the requests under way. */
  stop$: Observable<unknown>;
  /** The app's merge of remote records; the checkpoint moves only once it resolved. */
  onPull?: (entity: E, items: unknown[], info: PullInfo) => void | Promise<void>;
  /** The app's queued writes of one record, in send order. */
  pendingFor: (entity: E, id: string | number) => readonly SyncItem[];
  /** Show records with the app's pending writes applied on top, instead of as the server sent them. */
  readYourWrites: boolean;
  report: (event: SyncEvent, error?: unknown) => void;
}

/**
 * Pulls remote changes: `GET {endpoint}?since={checkpoint}` per entity, following `hasMore`
 * pages. A page's checkpoint (only ever the server's own) and the
 * transport's state are saved together, only after the app has applied the page, so a crash
 * or a failing `onPull` means the page comes again, never that it is skipped. Pulls run one
 * after another, so two never race on a checkpoint, and every hand-over of remote records to
 * the app (pages, and records that won a conflict) runs one at a time per entity.
 */
export class Puller<E extends string> {
  /** Every batch of remote records, after `onPull` resolved. */
  readonly pulled$: Observable<PulledBatch<E>>;
  /** How many pulls are under way. */
  readonly pulling$: Observable<number>;

  private readonly positions = new Map<E, PullPosition>();
  private readonly pulled = new Subject<PulledBatch<E>>();
  private readonly pulling = new BehaviorSubject(0);
  private readonly applying = new Map<E, Promise<unknown>>();
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: PullerOptions<E>) {
    this.pulled$ = this.pulled.asObservable();
    this.pulling$ = this.pulling.asObservable();
  }

  /** Items pulled over all entities, and how many entities failed. */
  pull(): Promise<{ pulled: number; errors: number }> {
    const run = this.chain.then(async () => {
      this.pulling.next(this.pulling.value + 1);
      try {
        const entities = Object.keys(this.options.entities) as E[];
        const counts = await Promise.all(entities.map((entity) => this.pullEntity(entity)));
        return {
          pulled: counts.reduce<number>((sum, count) => sum + (count ?? 0), 0),
          errors: counts.filter((count) => count === undefined).length,
        };
      } finally {
        if (!this.pulling.closed) this.pulling.next(this.pulling.value - 1);
      }
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Hands remote records to the app (`onPull`, then `pulled$`), after whatever it is applying
   * for that entity. A record the app still has writes queued for is listed in `pending`, and
   * with `readYourWrites` shown with those writes applied on top.
   */
  apply(entity: E, records: unknown[]): Promise<void> {
    const run = (this.applying.get(entity) ?? Promise.resolve()).then(async () => {
      const pending: (string | number)[] = [];
      const items = records.map((record) => {
        const id = recordIdOf(record);
        const writes = id === undefined ? [] : this.options.pendingFor(entity, id);
        if (writes.length === 0) return record;
        pending.push(id!);
        return this.options.readYourWrites ? withPendingWrites(record, writes) : record;
      });
      await this.options.onPull?.(entity, items, { pending });
      this.pulled.next({ entity, items, pending });
    });
    const settled = run.catch(() => undefined);
    this.applying.set(entity, settled);
    void settled.then(() => {
      if (this.applying.get(entity) === settled) this.applying.delete(entity);
    });
    return run;
  }

  /** {@link apply} for one record the app did not ask for (the server's answer to its write); a failing `onPull` is reported. */
  hand(entity: E, record: unknown): void {
    this.apply(entity, [record]).catch((error: unknown) =>
      this.options.report({ type: 'callback-error', callback: 'onPull', error: `[rxsync] onPull threw: ${describeError(error)}` }),
    );
  }

  /**
   * Hands the app a batch another tab's engine pulled and already prepared (a follower tab
   * pulls nothing itself), in turn with what it is applying for that entity; a failing
   * `onPull` is reported.
   */
  relay(batch: PulledBatch<E>): void {
    const run = (this.applying.get(batch.entity) ?? Promise.resolve()).then(async () => {
      await this.options.onPull?.(batch.entity, batch.items, { pending: batch.pending });
      this.pulled.next(batch);
    });
    const settled = run.catch((error: unknown) =>
      this.options.report({ type: 'callback-error', callback: 'onPull', error: `[rxsync] onPull threw: ${describeError(error)}` }),
    );
    this.applying.set(batch.entity, settled);
    void settled.then(() => {
      if (this.applying.get(batch.entity) === settled) this.applying.delete(batch.entity);
    });
  }

  /** Completes the streams. */
  close(): void {
    this.pulled.complete();
    this.pulling.complete();
  }

  /** Every page of one entity; the number of items, or undefined when it failed. */
  private async pullEntity(entity: E): Promise<number | undefined> {
    const { entities, transport, store, stop$, report } = this.options;
    const { endpoint } = entities[entity];
    let count = 0;
    try {
      if (!this.positions.has(entity)) this.positions.set(entity, await store.loadCheckpoint(entity));
      for (;;) {
        const position = this.positions.get(entity) ?? {};
        const request = transport.pull({ entity, endpoint, since: position.checkpoint, state: position.state });
        const page = await firstValueFrom(request.pipe(takeUntil(stop$)), { defaultValue: undefined });
        if (!page) return count; // stopped
        try {
          await this.apply(entity, page.items);
        } catch (error) {
          report({ type: 'callback-error', callback: 'onPull', error: `[rxsync] onPull threw: ${describeError(error)}` });
          throw new Error(`onPull threw for "${entity}", so its checkpoint stays where it was: ${describeError(error)}`);
        }
        // Only the server's own checkpoint is ever sent back: a device clock read as a filter
        // (many APIs do) would hide everything for ever. Without one, each pull starts over.
        const { checkpoint } = page;
        const moved = checkpoint !== position.checkpoint || page.state !== position.state;
        if (page.hasMore && !moved) {
          throw new Error(
            `The server said hasMore but did not move the checkpoint (${checkpoint === undefined ? 'none given' : `still "${checkpoint}"`}), so the next page would be this one again; stopped pulling "${entity}". Make each page's checkpoint point past its items.`,
          );
        }
        // An unchanged position (say, a 304 in snapshot mode) need not rewrite a large state.
        if (moved) {
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
