/** Every case the conformance check runs, in order, with what a failure means for an app using rxsync. */
export const CASES = {
  'pull-format': {
    title: 'GET /{entity} answers { items, checkpoint, hasMore }',
    meaning:
      "The stock pull cannot read this API. If it answers a plain array, configure httpTransport({ pull: { page: arrayPage, snapshot: true } }); otherwise give it a page reader that fits.",
  },
  create: {
    title: 'POST creates a record (2xx, the record as the body)',
    meaning: 'Creates are retried (5xx) or dead-lettered (other 4xx): nothing the app creates reaches the server.',
  },
  'record-version': {
    title: 'Records carry a server-owned version and updatedAt',
    meaning:
      'rxsync sends no If-Match, so a stale update silently overwrites a newer one (lost update), and last-write-wins has no updatedAt to compare.',
  },
  'create-existing': {
    title: 'POST of an existing id answers 409 with the current record',
    meaning:
      'Two devices creating the same id are not told of the conflict: a 2xx means one silently overwrote (or duplicated) the other, a 5xx is retried until dead-lettered, and a 409 whose body is not the record hands conflict resolution (and onPull) an error object as if it were data.',
  },
  'idempotent-create': {
    title: 'POST repeated with the same Idempotency-Key gets the first answer again',
    meaning:
      'A create retried after a lost answer (timeout, dropped connection) is applied twice or answered as a conflict: duplicates, or a write that looks refused although it landed.',
  },
  update: {
    title: 'PATCH merges the fields sent (2xx) and keeps the others',
    meaning: 'Updates fail, or a partial update wipes the fields it did not send.',
  },
  'idempotent-update': {
    title: 'PATCH repeated with the same Idempotency-Key is answered the same and applied once',
    meaning: 'An update retried after a lost answer is applied twice: counters double, versions jump, and the retry may be seen as a conflict.',
  },
  'if-match-current': {
    title: 'PATCH with If-Match of the current version succeeds',
    meaning: 'Every update of a record the app has a version for fails, though nothing changed on the server.',
  },
  'if-match-stale': {
    title: 'PATCH with a stale If-Match answers 409 or 412 with the current record',
    meaning:
      'A write based on an old version overwrites a newer one (lost update), or the conflict cannot be resolved because the answer does not carry the current record.',
  },
  'update-missing': {
    title: 'PATCH of a missing record answers 404',
    meaning: 'An update of a record deleted elsewhere is retried (5xx) until dead-lettered, or silently recreates it (2xx).',
  },
  put: {
    title: 'PUT overwrites the record (the client-wins re-send)',
    meaning: 'The client-wins strategy cannot re-send its version after a conflict: those writes are dead-lettered.',
  },
  delete: {
    title: 'DELETE answers 2xx, then 404 for a record already gone',
    meaning: 'Deletes are retried or dead-lettered instead of done; rxsync counts a 404 on DELETE as done.',
  },
  'pull-paging': {
    title: 'Pull pages follow the checkpoint: hasMore, each change once, checkpoints never go back',
    meaning: 'Clients skip changes or download the same ones forever; a checkpoint that goes back re-sends, one that jumps ahead loses changes.',
  },
  'pull-changes': {
    title: 'A pull from a checkpoint returns what changed after it, in its newest state',
    meaning: "Clients never see other devices' creates and updates, or see them in an old state.",
  },
  'pull-tombstones': {
    title: 'Deleted records come back in the pull as { id, deleted: true }',
    meaning:
      'Records deleted on the server stay in every client\'s local copy forever. Keep tombstones in the change feed, or use the snapshot pull (pull: { page: arrayPage, snapshot: true }).',
  },
  'retry-after': {
    title: 'Browsers may send Idempotency-Key / If-Match and read Retry-After (CORS)',
    meaning:
      'A browser app on another origin cannot send its idempotency keys or versions, or cannot see Retry-After and so retries on its own schedule while the server asks it to wait.',
  },
} as const;

export type CaseId = keyof typeof CASES;

export type CaseStatus = 'pass' | 'fail' | 'unsupported' | 'skipped';

/** How one case went. */
export interface CaseResult {
  id: CaseId;
  title: string;
  status: CaseStatus;
  /** What was seen. */
  detail: string;
  /** For a failure: what it means for an app using rxsync. */
  meaning?: string;
}
