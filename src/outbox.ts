import { coalesce } from './coalesce.js';
import { recordIdOf, recordKey, versionOf } from './recordFields.js';
import type { SyncItem } from './types.js';

/** A change to the outbox: the commands' one way of talking to each other and to storage. */
export type OutboxCommand =
  /** A new write. Coalesced with the record's queued write where the dedupe rules allow. */
  | { type: 'enqueue'; item: SyncItem }
  /**
   * Delivered: the item leaves the outbox. `version` is the record's version the server
   * answered with; the record's next queued write, based on the same version as this one,
   * is moved onto it so it does not conflict with its own predecessor. `assignedId` is the id
   * the server gave the record a create made under a temporary id: every queued write of the
   * record moves onto it and the assignment is kept, all in this one command, so storage holds
   * both or neither.
   */
  | { type: 'ack'; id: string; version?: string | number; assignedId?: string | number }
  /**
   * A conflict was decided for the client: the item, still in flight, becomes an overwrite
   * of `data`. Durable before the overwrite is sent, so a restart resumes it, not the original.
   */
  | { type: 'resolve'; id: string; data: unknown }
  /** A transient failure: the item stays in flight, its retry count goes up. */
  | { type: 'retried'; id: string; error: string }
  /** Given up on: the item moves to the dead-letter list. */
  | { type: 'dead-letter'; id: string; error: string }
  /** Empty the queue and the dead-letter list. */
  | { type: 'clear' }
  /** Move every dead letter back into the queue with a fresh retry count. */
  | { type: 'requeue' }
  /** The persisted outbox, loaded at start. Loaded items may have been sent already, so they are never merged into. */
  | { type: 'load'; queue: readonly SyncItem[]; failed: readonly SyncItem[]; ids?: readonly IdAssignment[] };

/** A temporary record id the app chose for a create, and the id the server gave the record instead. */
export interface IdAssignment {
  /** The record's entity. */
  entity: string;
  /** The id the app wrote the create with. */
  tempId: string | number;
  /** The id the server answered with. */
  id: string | number;
}

/** How many id assignments the outbox keeps translating writes by; the oldest goes first. */
export const MAX_ID_ASSIGNMENTS = 1000;

/** The two lists of the outbox: the queue (to send) and the dead letters (given up on). */
export type OutboxList = 'queue' | 'failed';

/** One item put into (`item` set) or taken out of (`item` undefined) a list; `previous` makes it undoable. */
export interface OutboxChange {
  /** The list changed. */
  list: OutboxList;
  /** The item's id. */
  id: string;
  /** The item as it is now in `list`, or undefined when it left it. */
  item: SyncItem | undefined;
  /** The item as it was in `list` before, or undefined when it was not there. */
  previous: SyncItem | undefined;
}

/** An id assignment kept (`assignment` set) or forgotten (`assignment` undefined). */
export interface OutboxIdChange {
  /** The assignment's key ({@link assignmentKey}): entity and temporary id. */
  key: string;
  /** The assignment as it is now, or undefined when it was forgotten. */
  assignment: IdAssignment | undefined;
}

/** What one command did to the outbox, as `dedupe` emits it and `Outbox.apply` returns it. */
export interface OutboxTransition {
  /** The command applied. */
  command: OutboxCommand;
  /** What the command did, in order; empty when it changed nothing (an identical duplicate, an unknown id). */
  changes: readonly OutboxChange[];
  /** For `enqueue`: the queued item the write became (merged into), or undefined when it cancelled out. */
  item?: SyncItem;
  /** For an `ack` with `assignedId`: the id assignments kept and forgotten. */
  assignments?: readonly OutboxIdChange[];
}

/** The key an {@link IdAssignment} is kept under: its entity and temporary id. */
export const assignmentKey = (assignment: IdAssignment): string => recordKey(assignment.entity, assignment.tempId);

const recordKeyOf = (item: SyncItem): string | undefined => {
  const id = (item.data as { id?: unknown } | null)?.id;
  return id === undefined || id === null ? undefined : recordKey(item.entity, id);
};

// Only id-less creates need this index: they have no record to coalesce on, only exact duplicates.
const contentKeyOf = (item: SyncItem): string => `${item.entity}\u0000${JSON.stringify(item.data)}`;

/**
 * The outbox: queue and dead-letter list, with every index the engine needs kept up to
 * date so that each command costs O(1) whatever the queue's length.
 *
 * Per record (entity + id) the queued items form a chain in send order. Only the chain's
 * tail is ever coalesced with a new write, and only while it is *open*: not in flight, never
 * sent, not loaded from storage. Only the chain's head is ever sent, so per-record order holds.
 * An item is *ready* when it heads its chain, is not in flight and all its changes are durable.
 */
export class Outbox {
  readonly #queue = new Map<string, SyncItem>();
  readonly #failed = new Map<string, SyncItem>();
  readonly #chains = new Map<string, string[]>();
  readonly #openCreates = new Map<string, string>();
  /** Items that were sent, are being sent, or came from storage: never merged into. */
  readonly #sealed = new Set<string>();
  /** Items an engine may have sent before (loaded from storage, or requeued dead letters): their answer may be a replay. */
  readonly #resent = new Set<string>();
  readonly #inFlight = new Set<string>();
  /** Items with a change not yet durable: not sent until it is. */
  readonly #pending = new Map<string, number>();
  readonly #ready = new Set<string>();
  /** Temporary record ids the server replaced, by record key, oldest first: later writes are translated. */
  readonly #assigned = new Map<string, IdAssignment>();
  #version = 0;
  #failedVersion = 0;
  #queueCache: { version: number; items: readonly SyncItem[] } | undefined;
  #failedCache: { version: number; items: readonly SyncItem[] } | undefined;

  /** Items in the queue, in flight included. */
  get size(): number {
    return this.#queue.size;
  }

  /** Dead letters. */
  get failedCount(): number {
    return this.#failed.size;
  }

  /** Items being sent. */
  get inFlightCount(): number {
    return this.#inFlight.size;
  }

  /** The queued item with this id, if there is one. */
  get(id: string): SyncItem | undefined {
    return this.#queue.get(id);
  }

  /**
   * True for an item an engine may have sent before this one loaded it, or a dead letter put
   * back after later writes of its record landed: the server's answer to it may replay an older
   * state of the record.
   */
  mayReplay(id: string): boolean {
    return this.#resent.has(id);
  }

  /** The queued writes of one record, in the order they will be sent (empty when none). */
  pendingFor(entity: string, id: string | number): SyncItem[] {
    return (this.#chains.get(recordKey(entity, id)) ?? []).map((itemId) => this.#queue.get(itemId)!);
  }

  /** The queue in send order; the same array until the outbox changes. */
  items(): readonly SyncItem[] {
    if (this.#queueCache?.version !== this.#version) {
      this.#queueCache = { version: this.#version, items: Object.freeze([...this.#queue.values()]) };
    }
    return this.#queueCache.items;
  }

  /** The dead letters in the order they failed; the same array until that list changes. */
  failedItems(): readonly SyncItem[] {
    if (this.#failedCache?.version !== this.#failedVersion) {
      this.#failedCache = { version: this.#failedVersion, items: Object.freeze([...this.#failed.values()]) };
    }
    return this.#failedCache.items;
  }

  /** How many id assignments are kept. */
  get idAssignmentCount(): number {
    return this.#assigned.size;
  }

  /** The id assignments kept, oldest first. */
  idAssignments(): IdAssignment[] {
    return [...this.#assigned.values()];
  }

  /** Applies one command with the coalescing rules and says what it changed. */
  apply(command: OutboxCommand): OutboxTransition {
    const changes: OutboxChange[] = [];
    const put = (list: OutboxList, id: string, item: SyncItem | undefined): void => {
      const previous = this.#place(list, id, item);
      changes.push({ list, id, item, previous });
    };
    switch (command.type) {
      case 'enqueue':
        return { command, changes, item: this.#enqueue(this.#translated(command.item), put) };
      case 'ack': {
        const acked = this.#queue.get(command.id);
        if (!acked) break;
        put('queue', acked.id, undefined);
        const key = recordKeyOf(acked);
        const next = key === undefined ? undefined : this.#queue.get(this.#chains.get(key)?.[0] ?? '');
        const base = versionOf(acked.data);
        if (next && command.version !== undefined && base !== undefined && versionOf(next.data) === base) {
          put('queue', next.id, { ...next, data: { ...(next.data as object), version: command.version } });
        }
        if (command.assignedId !== undefined) return { command, changes, assignments: this.#assign(acked, command.assignedId, put) };
        break;
      }
      case 'resolve': {
        const item = this.#queue.get(command.id);
        if (item) put('queue', item.id, { ...item, data: command.data, overwrite: true });
        break;
      }
      case 'retried': {
        const item = this.#queue.get(command.id);
        if (item) put('queue', item.id, { ...item, retryCount: item.retryCount + 1, lastError: command.error });
        break;
      }
      case 'dead-letter': {
        const item = this.#queue.get(command.id);
        if (item) {
          put('queue', item.id, undefined);
          put('failed', item.id, { ...item, lastError: command.error });
        }
        break;
      }
      case 'clear':
        for (const id of [...this.#queue.keys()]) put('queue', id, undefined);
        for (const id of [...this.#failed.keys()]) put('failed', id, undefined);
        break;
      case 'requeue':
        for (const item of [...this.#failed.values()]) {
          put('failed', item.id, undefined);
          const { lastError: _dropped, ...fresh } = item;
          this.#sealed.add(item.id);
          this.#resent.add(item.id);
          put('queue', item.id, this.#translated({ ...fresh, retryCount: 0 }));
        }
        break;
      case 'load':
        // Loaded items are durable already: placed without changes to persist.
        for (const item of command.queue) {
          this.#sealed.add(item.id);
          this.#resent.add(item.id);
          this.#place('queue', item.id, item);
        }
        for (const item of command.failed) this.#place('failed', item.id, item);
        for (const item of command.queue) this.#settle(item.id);
        for (const assignment of command.ids ?? []) this.#assigned.set(assignmentKey(assignment), assignment);
        break;
    }
    return { command, changes };
  }

  /**
   * The record `acked` created under a temporary id is called `id` on the server: every queued
   * write of it moves onto `id` (in the same order), and later writes with the temporary id are
   * translated, for the last {@link MAX_ID_ASSIGNMENTS} assignments.
   */
  #assign(
    acked: SyncItem,
    id: string | number,
    put: (list: OutboxList, id: string, item: SyncItem | undefined) => void,
  ): OutboxIdChange[] {
    const tempId = recordIdOf(acked.data);
    if (tempId === undefined || String(tempId) === String(id)) return [];
    const assignment: IdAssignment = { entity: acked.entity, tempId, id };
    const key = assignmentKey(assignment);
    for (const itemId of [...(this.#chains.get(key) ?? [])]) {
      const queued = this.#queue.get(itemId)!;
      put('queue', itemId, { ...queued, data: { ...(queued.data as object), id } });
    }
    this.#assigned.delete(key);
    this.#assigned.set(key, assignment);
    const assignments: OutboxIdChange[] = [{ key, assignment }];
    for (const oldest of this.#assigned.keys()) {
      if (this.#assigned.size <= MAX_ID_ASSIGNMENTS) break;
      this.#assigned.delete(oldest);
      assignments.push({ key: oldest, assignment: undefined });
    }
    return assignments;
  }

  /** A write naming a record by a temporary id the server has replaced names it by the server's id. */
  #translated(item: SyncItem): SyncItem {
    const key = recordKeyOf(item);
    const assignment = key === undefined ? undefined : this.#assigned.get(key);
    return assignment === undefined ? item : { ...item, data: { ...(item.data as object), id: assignment.id } };
  }

  #enqueue(
    item: SyncItem,
    put: (list: OutboxList, id: string, item: SyncItem | undefined) => void,
  ): SyncItem | undefined {
    // The same write handed in again (a tab re-sends what it forwarded once its leader changed) is already here.
    const known = this.#queue.get(item.id) ?? this.#failed.get(item.id);
    if (known) return known;
    const recordKey = recordKeyOf(item);
    if (recordKey === undefined) {
      const twin = this.#openCreates.get(contentKeyOf(item));
      if (twin !== undefined) return this.#queue.get(twin);
      put('queue', item.id, item);
      return item;
    }
    const chain = this.#chains.get(recordKey);
    const tailId = chain?.[chain.length - 1];
    const tail = tailId === undefined || this.#sealed.has(tailId) ? undefined : this.#queue.get(tailId);
    if (!tail) {
      put('queue', item.id, item);
      return item;
    }
    const merged = coalesce(tail, item);
    if (merged === 'cancel') {
      put('queue', tail.id, undefined);
      return undefined;
    }
    if (merged === 'append') {
      put('queue', item.id, item);
      return item;
    }
    if (merged === tail) return tail;
    put('queue', tail.id, merged);
    return merged;
  }

  /**
   * The next ready items, at most `limit`, marked in flight. In flight is runtime state:
   * it is not persisted, and a restart seals every loaded item instead.
   */
  take(limit: number): SyncItem[] {
    const taken: SyncItem[] = [];
    for (const id of this.#ready) {
      if (taken.length >= limit) break;
      this.#ready.delete(id);
      this.#inFlight.add(id);
      this.#sealed.add(id);
      const item = this.#queue.get(id)!;
      this.#closeCreate(item);
      taken.push(item);
    }
    return taken;
  }

  /** The changes of these transitions are durable now: their items may be sent. */
  persisted(transitions: readonly OutboxTransition[]): void {
    for (const transition of transitions) {
      for (const change of transition.changes) {
        if (change.item && change.list === 'queue') this.#settle(change.id);
      }
    }
  }

  /**
   * These transitions could not be persisted. Their writes and conflict decisions are taken
   * back, newest first, so the outbox holds exactly what storage holds plus the commands that
   * stand regardless (acks, retries, dead letters, clear, requeue: facts about delivery, kept
   * and persisted by the next write). A decision is no such fact: it is acted on only once
   * durable, and the pusher sends the original request again when it is not, so the item must
   * stay that request (a decision stored later would be sent as a second write under its own
   * key). A write before a `clear` in the same run needs no undoing: the clear already took it out.
   */
  rollback(transitions: readonly OutboxTransition[]): string[] {
    const restored: string[] = [];
    const removed: string[] = [];
    const lastClear = transitions.findLastIndex((t) => t.command.type === 'clear');
    for (let i = transitions.length - 1; i > lastClear; i--) {
      const transition = transitions[i];
      if (transition.command.type !== 'enqueue' && transition.command.type !== 'resolve') continue;
      for (let j = transition.changes.length - 1; j >= 0; j--) {
        const change = transition.changes[j];
        this.#place(change.list, change.id, change.previous);
        if (change.previous) restored.push(change.id);
        else removed.push(change.id);
      }
    }
    // What was restored is what storage holds: durable.
    for (const id of restored) this.#settle(id);
    this.persisted(transitions);
    return removed.filter((id) => !this.#queue.has(id));
  }

  /** Puts `item` under `id` in `list` (or takes it out), keeping every index right; returns what was there. */
  #place(list: OutboxList, id: string, item: SyncItem | undefined): SyncItem | undefined {
    if (list === 'failed') {
      this.#failedVersion++;
      const previous = this.#failed.get(id);
      if (item) this.#failed.set(id, item);
      else this.#failed.delete(id);
      return previous;
    }
    this.#version++;
    const previous = this.#queue.get(id);
    if (previous) this.#closeCreate(previous);
    if (item) {
      this.#queue.set(id, item);
      if (!previous) this.#link(item);
      else if (recordKeyOf(previous) !== recordKeyOf(item)) {
        // The record got its server id: the item moves to that record's chain.
        this.#unlink(previous);
        this.#link(item);
      }
      if (!recordKeyOf(item) && !this.#sealed.has(id)) this.#openCreates.set(contentKeyOf(item), id);
      this.#pending.set(id, (this.#pending.get(id) ?? 0) + 1);
      this.#refresh(id);
    } else if (previous) {
      this.#queue.delete(id);
      this.#unlink(previous);
      this.#sealed.delete(id);
      this.#resent.delete(id);
      this.#inFlight.delete(id);
      this.#ready.delete(id);
    }
    return previous;
  }

  /** An id-less create stops taking exact duplicates once it is sent or gone. */
  #closeCreate(item: SyncItem): void {
    if (recordKeyOf(item) === undefined && this.#openCreates.get(contentKeyOf(item)) === item.id) {
      this.#openCreates.delete(contentKeyOf(item));
    }
  }

  /**
   * Puts an item into its record's chain in the order the app wrote: a new write goes last,
   * a requeued dead letter (or a reloaded item) goes back before later writes of its record
   * that are not in flight yet.
   */
  #link(item: SyncItem): void {
    const key = recordKeyOf(item);
    if (key === undefined) return;
    const chain = this.#chains.get(key);
    if (!chain) {
      this.#chains.set(key, [item.id]);
      return;
    }
    let at = chain.length;
    while (at > 0 && !this.#inFlight.has(chain[at - 1]) && this.#queue.get(chain[at - 1])!.timestamp > item.timestamp) at--;
    chain.splice(at, 0, item.id);
    if (at === 0 && chain.length > 1) this.#refresh(chain[1]);
  }

  #unlink(item: SyncItem): void {
    const key = recordKeyOf(item);
    if (key === undefined) return;
    const chain = this.#chains.get(key)!;
    const at = chain.indexOf(item.id);
    chain.splice(at, 1);
    if (chain.length === 0) this.#chains.delete(key);
    else if (at === 0) this.#refresh(chain[0]);
  }

  #settle(id: string): void {
    const left = (this.#pending.get(id) ?? 1) - 1;
    if (left > 0) this.#pending.set(id, left);
    else this.#pending.delete(id);
    this.#refresh(id);
  }

  #refresh(id: string): void {
    const item = this.#queue.get(id);
    const key = item && recordKeyOf(item);
    const isReady =
      item !== undefined &&
      !this.#inFlight.has(id) &&
      !this.#pending.has(id) &&
      (key === undefined || this.#chains.get(key)![0] === id);
    if (isReady) this.#ready.add(id);
    else this.#ready.delete(id);
  }
}
