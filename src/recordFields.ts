/**
 * The record version a write is based on, when the app puts one in its data (`data.version`,
 * as pulled from the server). It is sent as `If-Match`, and it is what a server's answer
 * carries back.
 */
export function versionOf(data: unknown): string | number | undefined {
  const version = (data as { version?: unknown } | null | undefined)?.version;
  return typeof version === 'string' || typeof version === 'number' ? version : undefined;
}

/** The id of a record as the data names it (`data.id`), when it names one. */
export function recordIdOf(data: unknown): string | number | undefined {
  const id = (data as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** The key of one record of one entity, as the outbox and the puller index records by. */
export function recordKey(entity: string, id: unknown): string {
  return `${entity}\u0000${String(id)}`;
}
