import { BehaviorSubject, firstValueFrom, type Observable, Subject, takeUntil } from 'rxjs';
import type { Settled } from './durableOutbox.js';
import { describeError } from './errors.js';
import { OverlayBases } from './overlayBases.js';
import type { OutboxStore } from './outboxStore.js';
import type { PullPosition } from './pullPosition.js';
import type { PushReport } from './pusher.js';
import { withPendingWrites } from './readYourWrites.js';
import { recordIdOf, recordKey, versionOf } from './recordFields.js';
import type { EntityConfig, PullInfo, PulledBatch, SyncEvent, SyncItem, SyncStorage, SyncTransport } from './types.js';

/** How often a page is asked for again because the app got an answer newer than it may be, before it is taken as it is. */
const MAX_STALE_PAGES = 3;
/** How many records' newest handed version the engine remembers: replayed answers come soon after. */
const NEWEST_KEPT = 10_000;

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
  /** Where the server's records behind those overlays are kept (see {@link OverlayBases}). */
  storage: SyncStorage;
  storageKey: string;
  report: (event: SyncEvent, error?: unknown) => void;
}

/**
 * Pulls remote changes: `GET {endpoint}?since={checkpoint}` per entity, following `hasMore`
 * pages. A page's checkpoint (only ever the server's own) and the
 * transport's state are saved together, only after the app has applied the page, so a crash
 * or a failing `onPull` means the page comes again, never that it is skipped. Pulls run one
 * after another, so two never race on a checkpoint, and every hand-over of remote records to
 * the app (pages, the server's answers, records that won a conflict, records given back when
 * the writes shown on them failed) runs one at a time per entity.
 */
export class Puller<E extends string> {
  /** Every batch of remote records, after `onPull` resolved. */
  readonly pulled$: Observable<PulledBatch<E>>;
  /** How many pulls are under way. */
  readonly pulling$: Observable<number>;

  readonly #positions = new Map<E, PullPosition>();
  readonly #pulled = new Subject<PulledBatch<E>>();
  readonly #pulling = new BehaviorSubject(0);
  readonly #applying = new Map<E, Promise<unknown>>();
  /** Per record (the most recent NEWEST_KEPT), the newest numeric `version` the app was handed. */
  readonly #newest = new Map<string, number>();
  readonly #incoming = new Map<string, number>();
  /** Per entity whose page request is under way: the ids the app was handed the server's answer for meanwhile. */
  readonly #answeredDuring = new Map<E, Set<string>>();
  readonly #bases: OverlayBases;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  readonly #options: PullerOptions<E>;

  constructor(options: PullerOptions<E>) {
    this.#options = options;
    this.pulled$ = this.#pulled.asObservable();
    this.pulling$ = this.#pulling.asObservable();
    this.#bases = new OverlayBases(options.storage, options.storageKey, (error) =>
      options.report({ type: 'storage-error', error: error.message, ...(error.key ? { key: error.key } : {}) }, error),
    );
  }

  /** Items pulled over all entities, and how many entities failed. */
  pull(): Promise<{ pulled: number; errors: number }> {
    const run = this.#chain.then(async () => {
      this.#pulling.next(this.#pulling.value + 1);
      try {
        const entities = Object.keys(this.#options.entities) as E[];
        const counts = await Promise.all(entities.map((entity) => this.#pullEntity(entity)));
        await this.sweep();
        return {
          pulled: counts.reduce<number>((sum, count) => sum + (count ?? 0), 0),
          errors: counts.filter((count) => count === undefined).length,
        };
      } finally {
        this.#pulling.next(this.#pulling.value - 1);
      }
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Hands remote records to the app (`onPull`, then `pulled$`), after whatever it is applying
   * for that entity. A record the app still has writes queued for is listed in `pending`, and
   * with `readYourWrites` shown with those writes applied on top; the record as the server sent
   * it is then kept (see {@link OverlayBases}) until the app gets that record plain again.
   * A plain record (nothing pending) clears its base.
   */
  apply(entity: E, records: unknown[]): Promise<void> {
    const ids = records.map(recordIdOf);
    for (const id of ids) if (id !== undefined) this.#count(entity, id, 1);
    return this.#serialize(entity, async () => {
      try {
        if (this.#options.readYourWrites) await this.#bases.load(entity);
        const pending: (string | number)[] = [];
        const settled: (string | number)[] = [];
        const handed: [key: string, version: number][] = [];
        // Each record as it is shown (with the pending writes on top) and plain (as the server sent it).
        const handOvers = records.flatMap((given, index): { shown: unknown; plain: unknown }[] => {
          const id = ids[index];
          if (id === undefined) return [{ shown: given, plain: given }];
          // An answer replayed under its idempotency key can be older than a record pulled since.
          const base = this.#bases.get(entity, id);
          const record = base !== undefined && isOlder(given, base) ? base : given;
          const version = versionOf(record);
          const key = recordKey(entity, id);
          if (typeof version === 'number') {
            // The app already has a newer version of it (say a pull brought another client's edit
            // before the replayed answer to our own write came back): this one would take it back.
            if (version < (this.#newest.get(key) ?? -Infinity)) return [];
            handed.push([key, version]);
          }
          const writes = this.#options.pendingFor(entity, id);
          if (writes.length === 0) {
            // Shown with an overlay before: this plain record is owed to the app until its onPull took it.
            if (this.#bases.has(entity, id)) {
              this.#bases.set(entity, record);
              settled.push(id);
            }
            return [{ shown: record, plain: record }];
          }
          pending.push(id);
          if (!this.#options.readYourWrites) return [{ shown: record, plain: record }];
          this.#bases.set(entity, record);
          return [{ shown: withPendingWrites(record, writes), plain: record }];
        });
        if (handOvers.length === 0 && records.length > 0) return;
        // Stored before the app sees the records: a crash in between leaves the app with a
        // record plain or shown over a base that is kept, so a failed write can still give it back.
        // Storage that cannot keep them gets nothing a crash could leave hidden or marked for ever:
        // the records as the server sent them, not listed as pending (`pendingFor()` still knows).
        const kept = await this.#bases.save(entity);
        if (!kept) for (const id of pending) this.#bases.delete(entity, id);
        await this.#deliver(entity, handOvers.map((handOver) => (kept ? handOver.shown : handOver.plain)), kept ? pending : []);
        this.#remember(handed);
        if (settled.length > 0) {
          for (const id of settled) this.#bases.delete(entity, id);
          await this.#bases.save(entity);
        }
      } finally {
        for (const id of ids) if (id !== undefined) this.#count(entity, id, -1);
      }
    });
  }

  /** Notes the versions the app now has, keeping the most recent NEWEST_KEPT records. */
  #remember(handed: readonly [key: string, version: number][]): void {
    for (const [key, version] of handed) {
      if (version < (this.#newest.get(key) ?? -Infinity)) continue;
      this.#newest.delete(key);
      this.#newest.set(key, version);
    }
    for (const key of this.#newest.keys()) {
      if (this.#newest.size <= NEWEST_KEPT) break;
      this.#newest.delete(key);
    }
  }

  /**
   * What the app is handed of a push's outcome. The server's answer is the record's new state,
   * as a pull would give it; a write the server took without answering with the record moves on
   * the base it was shown on. Not so for a write `sentBefore` (by an earlier engine, or a requeued
   * dead letter): its answer may replay an older state, and moving the base on by it could put
   * older fields back over newer ones. The app gets back what that write hid; a change it made
   * comes with the next pull.
   */
  answered({ event, record }: PushReport, sentBefore: boolean): void {
    if (sentBefore && event.type === 'pushed') this.writesEnded(event.item.entity as E, record?.data ?? event.item.data);
    else if (record) this.#hand(record.entity as E, record.data);
    else if (event.type === 'pushed' && event.status < 300) this.#acceptedWithoutAnswer(event.item.entity as E, event.item);
  }

  /**
   * Gives back what writes hid when they leave the outbox without an answer for the app (dead
   * letters, clears…), and, once this engine loaded the outbox (the leading tab), what writes hid
   * while no engine ran.
   */
  follow(outbox: { settled$: Observable<Settled>; loaded: Promise<unknown> }): void {
    outbox.settled$.pipe(takeUntil(this.#options.stop$)).subscribe(({ item }) => item && this.writesEnded(item.entity as E, item.data));
    void outbox.loaded.then(() => this.sweep());
  }

  /** {@link apply} for one record the app did not ask for (the server's answer to its write); a failing `onPull` is reported. */
  #hand(entity: E, record: unknown): void {
    const id = recordIdOf(record);
    if (id !== undefined) this.#answeredDuring.get(entity)?.add(String(id));
    this.apply(entity, [record]).catch((error: unknown) => this.#reportHandOver(error));
  }

  /**
   * The server took `item` but answered without the record: the base it was shown on moves on
   * by that write, and is the record's state once nothing else is pending.
   */
  #acceptedWithoutAnswer(entity: E, item: SyncItem): void {
    const id = recordIdOf(item.data);
    if (id === undefined) return;
    this.#answeredDuring.get(entity)?.add(String(id));
    if (!this.#options.readYourWrites) return;
    this.#serialize(entity, async () => {
      await this.#bases.load(entity);
      if (!this.#bases.has(entity, id)) return;
      this.#bases.set(entity, withPendingWrites(this.#bases.get(entity, id), [item]));
      await this.#bases.save(entity);
      await this.#restore(entity, [id]);
    }).catch((error: unknown) => this.#reportHandOver(error));
  }

  /**
   * The queued writes of the record `data` names may have ended without the app being handed
   * the server's answer (a dead letter, a conflict the server won without sending its record,
   * `clearQueue()`, a create cancelled by a delete, a write storage refused): a record that was
   * shown with an overlay and has nothing pending any more goes back to the app as the server
   * last sent it, marked as not pending.
   */
  writesEnded(entity: E, data: unknown): void {
    const id = recordIdOf(data);
    if (id === undefined || !this.#options.readYourWrites || !this.#bases.mayHave(entity, id)) return;
    this.#serialize(entity, async () => {
      await this.#bases.load(entity);
      await this.#restore(entity, [id]);
    }).catch((error: unknown) => this.#reportHandOver(error));
  }

  /**
   * {@link writesEnded} for every record with a base: after a restart (writes may have ended
   * while no engine ran) and after each pull (a hand-over the app's `onPull` refused is tried again).
   */
  sweep(): Promise<void> {
    if (!this.#options.readYourWrites) return Promise.resolve();
    const entities = Object.keys(this.#options.entities) as E[];
    return Promise.all(
      entities.map((entity) =>
        this.#serialize(entity, async () => {
          await this.#bases.load(entity);
          await this.#restore(entity, this.#bases.ids(entity));
        }).catch((error: unknown) => this.#reportHandOver(error)),
      ),
    ).then(() => undefined);
  }

  /** Completes the streams. */
  close(): void {
    this.#closed = true;
    this.#pulled.complete();
    this.#pulling.complete();
  }

  /** Hands the bases of `ids` that are due back to the app: nothing pending, and no newer record on its way. */
  async #restore(entity: E, ids: readonly (string | number)[]): Promise<void> {
    const due = ids.filter(
      (id) => this.#bases.has(entity, id) && this.#options.pendingFor(entity, id).length === 0 && !this.#incoming.has(recordKey(entity, id)),
    );
    if (due.length === 0) return;
    await this.#deliver(entity, due.map((id) => this.#bases.get(entity, id)), []);
    // Forgotten only once the app has it: a crash before hands the same record again.
    for (const id of due) this.#bases.delete(entity, id);
    await this.#bases.save(entity);
  }

  async #deliver(entity: E, items: unknown[], pending: (string | number)[]): Promise<void> {
    await this.#options.onPull?.(entity, items, { pending });
    this.#pulled.next({ entity, items, pending });
  }

  /** Runs `task` after every earlier hand-over of this entity to the app: they never overlap. */
  #serialize(entity: E, task: () => Promise<void>): Promise<void> {
    const run = (this.#applying.get(entity) ?? Promise.resolve()).then(() => {
      // Once closed, nothing more reaches the app or storage (a next engine may own it by now),
      // and a page not handed over must not move its checkpoint: so this fails.
      if (this.#closed) throw new Error('the engine was destroyed before these records reached the app');
      return task();
    });
    const settled = run.catch(() => undefined);
    this.#applying.set(entity, settled);
    void settled.then(() => {
      if (this.#applying.get(entity) === settled) this.#applying.delete(entity);
    });
    return run;
  }

  /** Records on their way to the app (queued hand-overs not yet run), by record. */
  #count(entity: E, id: string | number, delta: number): void {
    const key = recordKey(entity, id);
    const next = (this.#incoming.get(key) ?? 0) + delta;
    if (next > 0) this.#incoming.set(key, next);
    else this.#incoming.delete(key);
  }

  /**
   * Hands the app a batch another tab's engine pulled and prepared (a follower tab pulls
   * nothing itself), in turn with whatever it is handing over for that entity.
   */
  relay(batch: PulledBatch<E>): void {
    this.#serialize(batch.entity, () => this.#deliver(batch.entity, batch.items, [...batch.pending])).catch((error: unknown) => this.#reportHandOver(error));
  }

  #reportHandOver(error: unknown): void {
    this.#options.report({ type: 'callback-error', callback: 'onPull', error: `[rxsync] onPull threw: ${describeError(error)}` });
  }

  /** Every page of one entity; the number of items, or undefined when it failed. */
  async #pullEntity(entity: E): Promise<number | undefined> {
    const { entities, transport, store, stop$, report } = this.#options;
    const { endpoint } = entities[entity];
    let count = 0;
    let stale = 0;
    try {
      if (!this.#positions.has(entity)) this.#positions.set(entity, await store.loadCheckpoint(entity));
      for (;;) {
        const position = this.#positions.get(entity) ?? {};
        const request = transport.pull({ entity, endpoint, since: position.checkpoint, state: position.state });
        const answered = new Set<string>();
        this.#answeredDuring.set(entity, answered);
        const page = await firstValueFrom(request.pipe(takeUntil(stop$)), { defaultValue: undefined }).finally(() => this.#answeredDuring.delete(entity));
        if (!page) return count; // stopped
        // The server may have read this page before it took a write whose answer the app got
        // meanwhile: handing the page on would show the record as it was before. Ask again.
        if (stale < MAX_STALE_PAGES && page.items.some((record) => answered.has(String(recordIdOf(record))))) {
          stale++;
          continue;
        }
        stale = 0;
        try {
          await this.apply(entity, page.items);
        } catch (error) {
          this.#reportHandOver(error);
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
          this.#positions.set(entity, next);
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

/** True when both records carry numeric versions and `record`'s is the lower: it is the older state. */
function isOlder(record: unknown, than: unknown): boolean {
  const version = versionOf(record);
  const other = versionOf(than);
  return typeof version === 'number' && typeof other === 'number' && version < other;
}
