import type { PullInfo } from '../../src/index.js';

/** Fields the server adds to a record; the app's view is judged on the others. */
const SERVER_FIELDS = new Set(['version', 'updatedAt']);

interface Shown {
  /** App fields, or undefined for a tombstone. */
  data: Record<string, unknown> | undefined;
  pending: boolean;
}

/**
 * What the user sees: an app that simply takes every record `onPull` hands it, the last one
 * winning (hand-overs of one entity never overlap, so "last" is the engine's order), with the
 * rows listed in `pending` marked as not yet synced. With read-your-writes those rows carry the
 * app's own pending edits, so once everything has settled, every row must show exactly what the
 * server holds, unmarked, whatever failed on the way (dead letters, conflicts the server won,
 * `clearQueue()`, restarts).
 */
export class AppView {
  private readonly rows = new Map<string, Shown>();

  /** The app's `onPull`, once it decided to take the batch. */
  take(items: readonly unknown[], info: PullInfo): void {
    const pending = new Set(info.pending.map(String));
    for (const item of items as Record<string, unknown>[]) {
      const id = String(item.id);
      const data = item.deleted === true ? undefined : Object.fromEntries(Object.entries(item).filter(([key]) => !SERVER_FIELDS.has(key)));
      this.rows.set(id, { data, pending: pending.has(id) });
    }
  }

  /** Whether the app marks the row as having pending edits. */
  isPending(id: string): boolean {
    return this.rows.get(id)?.pending === true;
  }

  /** Whether the app holds a row for `id` showing exactly `data` (undefined: a tombstone). */
  shows(id: string, data: Record<string, unknown> | undefined): boolean {
    const row = this.rows.get(id);
    return row !== undefined && canonical(row.data) === canonical(data);
  }

  /** Ids of the rows the app holds. */
  ids(): string[] {
    return [...this.rows.keys()];
  }

  /** How the view differs from the server, record by record (`serverRecord` gives app fields, or undefined when absent). */
  differences(ids: readonly string[], serverRecord: (id: string) => Record<string, unknown> | undefined): string[] {
    const problems: string[] = [];
    for (const id of ids) {
      const row = this.rows.get(id);
      const server = serverRecord(id);
      if (row?.pending) problems.push(`the app still marks "${id}" as pending after everything settled`);
      if (canonical(row?.data) !== canonical(server)) {
        problems.push(`the app shows "${id}" as ${canonical(row?.data)}, the server holds ${canonical(server)}`);
      }
    }
    return problems;
  }
}

function canonical(value: Record<string, unknown> | undefined): string {
  return value === undefined ? 'nothing' : JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));
}
