// src/: the core (engine wiring, outbox, delivery, pull, status) and this barrel of the public API; browser code is in src/browser/.
export { createSyncEngine } from './engine.js';
export { httpTransport, parseRetryAfter, DEFAULT_MAX_RETRY_AFTER_MS, type HttpTransportOptions } from './httpTransport.js';
export { classifyResponse, remoteRecord, type PushOutcome, type PushOutcomeKind } from './classifyResponse.js';
export type { HttpPullOptions } from './http/pullListing.js';
export {
  arrayPage,
  dataPage,
  feedPage,
  linkNext,
  type CheckpointPlacement,
  type DataPageOptions,
  type PageReader,
  type PullResponse,
  type ReadPage,
} from './http/pullAdapters.js';
export type { RecordId, SnapshotOptions, SynthesizedTombstone } from './http/snapshot.js';
export { browserOnline$ } from './browser/browserOnline.js';
export {
  eventSourcePoke,
  type EventSourceConstructor,
  type EventSourceInit,
  type EventSourceLike,
  type EventSourcePokeOptions,
} from './eventSourcePoke.js';
export { memoryStorage } from './memoryStorage.js';
export { defaultStorage } from './browser/defaultStorage.js';
export { validateWrite } from './validateWrite.js';
export { SyncInputError, SyncHttpError, SyncConflictError, SyncStorageError, SyncOptionsError, isTransientStatus } from './errors.js';
export type {
  Conflict,
  ConflictResolution,
  ConflictStrategy,
  EntityConfig,
  PullInfo,
  PulledBatch,
  PullPage,
  PullRequest,
  PushRequest,
  SharedTabsOptions,
  SyncEngine,
  UnauthorizedContext,
  SyncEngineOptions,
  SyncEvent,
  SyncItem,
  SyncOperation,
  SyncResult,
  SyncState,
  SyncStatusInfo,
  SyncStorage,
  SyncTransport,
  SyncWrite,
  TelemetryClient,
  TransportResponse,
} from './types.js';
export type { IdAssignment, OutboxCommand, OutboxChange, OutboxIdChange, OutboxTransition } from './outbox.js';
export type { TabLocks } from './tabs/leadership.js';
export type { TabChannel } from './tabs/tabMessages.js';
