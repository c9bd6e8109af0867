import type { SchedulerLike } from 'rxjs';
import { SyncOptionsError } from './errors.js';
import type { Conflict, EntityConfig, SharedTabsOptions, SyncEngineOptions, SyncTransport, TelemetryClient, UnauthorizedContext } from './types.js';

const STRATEGIES = new Set(['server-wins', 'client-wins', 'last-write-wins', 'manual']);

/** The engine's options with every default filled in, checked. */
export interface ResolvedOptions<E extends string> {
  entities: Record<E, EntityConfig>;
  entityNames: E[];
  transport: SyncTransport;
  storageKey: string;
  maxRetries: number;
  requestTimeoutMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  retryJitter: number;
  concurrency: number;
  /** 1 when the transport cannot batch. */
  batchSize: number;
  scheduler?: SchedulerLike;
  now: () => number;
  createId: () => string;
  productId: string;
  onConflict?: (conflict: Conflict) => unknown;
  onUnauthorized?: (context: UnauthorizedContext) => unknown;
  telemetryClient?: TelemetryClient;
  /** Show pulled records with the app's pending writes applied on top. */
  readYourWrites: boolean;
  /** The pulls the engine makes by itself; `intervalMs` 0 means none on a timer. */
  autoPull: { onStart: boolean; onReconnect: boolean; afterPush: boolean; intervalMs: number };
  /** Sharing the outbox with other tabs: off, or on where the environment allows it. */
  tabs: false | (SharedTabsOptions & { takeoverMs: number });
}

/**
 * Checks the options a user passed and fills in the defaults. A wrong option throws at
 * construction with an `[rxsync]` message saying what to pass, rather than an engine that
 * silently never sends.
 */
export function resolveOptions<E extends string>(options: SyncEngineOptions<E>): ResolvedOptions<E> {
  if (options === null || typeof options !== 'object') fail('createSyncEngine() needs an options object: { entities, transport }.');
  const { entities, transport } = options;
  if (entities === null || typeof entities !== 'object' || Object.keys(entities).length === 0) {
    fail("options.entities must name at least one entity, e.g. { todos: { endpoint: '/todos' } }.");
  }
  for (const [name, config] of Object.entries<EntityConfig>(entities)) {
    if (config === null || typeof config !== 'object' || typeof config.endpoint !== 'string' || config.endpoint === '') {
      fail(`options.entities.${name} needs an endpoint, e.g. { endpoint: '/${name}' }.`);
    }
    if (config.conflictStrategy !== undefined && !STRATEGIES.has(config.conflictStrategy)) {
      fail(`options.entities.${name}.conflictStrategy must be one of ${[...STRATEGIES].join(', ')}; got ${String(config.conflictStrategy)}.`);
    }
    if (config.serverIds !== undefined && typeof config.serverIds !== 'boolean') {
      fail(`options.entities.${name}.serverIds must be true or false; got ${String(config.serverIds)}.`);
    }
  }
  if (transport === null || typeof transport !== 'object' || typeof transport.push !== 'function' || typeof transport.pull !== 'function') {
    fail("options.transport must be a transport with push() and pull(), e.g. httpTransport({ baseUrl: 'https://api.example.com' }).");
  }
  return {
    entities,
    entityNames: Object.keys(entities) as E[],
    transport,
    storageKey: text('storageKey', options.storageKey, 'rxsync'),
    maxRetries: integer('maxRetries', options.maxRetries, 5, 0),
    requestTimeoutMs: number('requestTimeoutMs', options.requestTimeoutMs, 30_000, 1, 2 ** 31 - 1),
    retryBaseDelayMs: number('retryBaseDelayMs', options.retryBaseDelayMs, 1000, 0),
    retryMaxDelayMs: number('retryMaxDelayMs', options.retryMaxDelayMs, 30_000, 0),
    retryJitter: number('retryJitter', options.retryJitter, 0.2, 0, 1),
    concurrency: integer('concurrency', options.concurrency, 4, 1),
    batchSize: transport.pushBatch ? integer('batchSize', options.batchSize, 1, 1) : 1,
    scheduler: options.scheduler,
    now: fn('now', options.now) ?? (() => options.scheduler?.now() ?? Date.now()),
    createId: fn('createId', options.createId) ?? defaultId,
    productId: text('productId', options.productId, 'rxsync'),
    onConflict: fn('onConflict', options.onConflict),
    onUnauthorized: fn('onUnauthorized', options.onUnauthorized),
    telemetryClient: options.telemetryClient,
    readYourWrites: options.readYourWrites !== false,
    autoPull: autoPull(options.autoPull),
    tabs: tabs(options.tabs),
  };
}

function tabs(value: SyncEngineOptions['tabs']): ResolvedOptions<string>['tabs'] {
  if (value === false) return false;
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    fail(`options.tabs must be false or { takeoverMs?, locks?, channel? }; got ${String(value)}.`);
  }
  if (value?.locks !== undefined && typeof value.locks?.request !== 'function') fail('options.tabs.locks must be a Web Locks LockManager, like navigator.locks.');
  return { ...value, takeoverMs: number('tabs.takeoverMs', value?.takeoverMs, 500, 1, 2 ** 31 - 1), channel: fn('tabs.channel', value?.channel) };
}

function autoPull(value: SyncEngineOptions['autoPull']): ResolvedOptions<string>['autoPull'] {
  if (value === false) return { onStart: false, onReconnect: false, afterPush: false, intervalMs: 0 };
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    fail(`options.autoPull must be false or { onStart?, onReconnect?, afterPush?, intervalMs? }; got ${String(value)}.`);
  }
  return {
    onStart: value?.onStart ?? true,
    onReconnect: value?.onReconnect ?? true,
    afterPush: value?.afterPush ?? true,
    intervalMs: number('autoPull.intervalMs', value?.intervalMs, 0, 0, 2 ** 31 - 1),
  };
}

function fail(message: string): never {
  throw new SyncOptionsError(`[rxsync] ${message}`);
}

function number(name: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    fail(`options.${name} must be a number from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any size' : max}; got ${String(value)}. Leave it out for the default (${fallback}).`);
  }
  return value;
}

function integer(name: string, value: number | undefined, fallback: number, min: number): number {
  const checked = number(name, value, fallback, min);
  if (!Number.isInteger(checked)) fail(`options.${name} must be a whole number; got ${checked}.`);
  return checked;
}

function text(name: string, value: string | undefined, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') fail(`options.${name} must be a non-empty string; got ${String(value)}.`);
  return value;
}

function fn<F>(name: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') fail(`options.${name} must be a function; got ${typeof value}.`);
  return value;
}

function defaultId(): string {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // Pages served over plain http (not localhost) have no randomUUID.
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
}
