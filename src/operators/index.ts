// src/operators/: the pipeable operators rxsync is built from, public as `rxsync/operators`.
export { dedupe } from './dedupe.js';
export { persist, type PersistedBatch } from './persist.js';
export { whenOnline, type WhenOnlineConfig } from './whenOnline.js';
export { retryBackoff, backoffDelay, type RetryBackoffConfig } from './retryBackoff.js';
export { coalesceRuns } from './coalesceRuns.js';
export { resolveConflict, type ResolveConflictConfig, type ResolvedConflict } from './resolveConflict.js';
export { Outbox, type OutboxCommand, type OutboxChange, type OutboxList, type OutboxTransition } from '../outbox.js';
