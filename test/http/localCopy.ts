/** What an app keeps from `onPull`: live records by id; a tombstone removes its record. */
export function localCopy() {
  const records = new Map<string, unknown>();
  return {
    records,
    onPull(_entity: string, items: unknown[]): void {
      for (const item of items) {
        const record = item as { id: string | number; deleted?: boolean };
        if (record.deleted === true) records.delete(String(record.id));
        else records.set(String(record.id), item);
      }
    },
    /** The records, sorted by id, for comparing with a server's. */
    sorted(): unknown[] {
      return [...records.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r);
    },
  };
}
