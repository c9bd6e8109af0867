export { createSyncEngine } from './engine.js';
export { httpTransport, parseRetryAfter, DEFAULT_MAX_RETRY_AFTER_MS, type HttpTransportOptions } from './httpTransport.js';
export { classifyResponse, remoteRecord, type PushOutcome, type PushOutcomeKind } from './classifyResponse.js';
export { browserOnline$ } from './browser/browserOnline.js';
export { memoryStorage } from './memoryStorage.js';
export { defaultStorage } from './browser/defaultStorage.js';
export { validateWrite } from './validateWrite.js';
export { SyncInputError, SyncHttpError, SyncConflictError, SyncStorageError, SyncOptionsError, isTransientStatus } from './errors.js';
export type {
  Conflict,
  ConflictResolution,
  ConflictStrategy,
  EntityConfig,
  PullPage,
  PushRequest,
  SyncEngine,
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
export type { OutboxCommand, OutboxChange, OutboxTransition } from './outbox.js';
