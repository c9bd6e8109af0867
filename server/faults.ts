/**
 * Fault injection state of the reference server, switchable at run time (`server.faults` in
 * process, `GET/POST/DELETE /__faults` over HTTP). Faults hit entity routes and `/_batch` only.
 *
 * Per faulted request, in this order:
 *   1. wait `latencyMs`;
 *   2. fail: if `failNext > 0` (decremented) or, when `failureRate > 0`, `random() < failureRate`,
 *      answer `failureStatus` (503) with `Retry-After: retryAfterSeconds` when that is a number,
 *      and apply nothing;
 *   3. otherwise handle the request fully (writes are committed);
 *   4. drop: if `dropNext > 0` (decremented) or, when `dropResponseRate > 0`,
 *      `random() < dropResponseRate`, destroy the socket instead of answering.
 * `random` is only called for a rate that is above 0, so tests can script it.
 */

export interface FaultConfig {
  /** Delay before each faulted request is handled, in ms. */
  latencyMs: number;
  /** 0..1: share of requests answered with `failureStatus` without being applied. */
  failureRate: number;
  /** Status of injected failures; 503 by default (any 4xx/5xx is allowed, e.g. 429). */
  failureStatus: number;
  /** Sent as `Retry-After` (seconds) with injected failures; null = no header. */
  retryAfterSeconds: number | null;
  /** 0..1: share of requests that are applied fully, then answered by destroying the socket. */
  dropResponseRate: number;
  /** The next N faulted requests fail (deterministic; counts down). */
  failNext: number;
  /** The next N faulted requests that are not failed have their response dropped (counts down). */
  dropNext: number;
}

export const DEFAULT_FAULTS: Readonly<FaultConfig> = Object.freeze({
  latencyMs: 0,
  failureRate: 0,
  failureStatus: 503,
  retryAfterSeconds: null,
  dropResponseRate: 0,
  failNext: 0,
  dropNext: 0,
});

export interface FaultCounters {
  delayed: number;
  failed: number;
  dropped: number;
}

/** Thrown by `Faults.set` for an invalid option; the admin endpoint answers 400 with its message. */
export class FaultConfigError extends Error {
  override readonly name = 'FaultConfigError';
}

type Check = (value: unknown) => string | undefined;

const number = (min: number, max: number, integer = false): Check => (value) =>
  typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))
    ? `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`
    : undefined;

const CHECKS: Record<keyof FaultConfig, Check> = {
  latencyMs: number(0, 600_000),
  failureRate: number(0, 1),
  failureStatus: number(400, 599, true),
  retryAfterSeconds: (value) => (value === null ? undefined : number(0, 86_400)(value)),
  dropResponseRate: number(0, 1),
  failNext: number(0, 1_000_000, true),
  dropNext: number(0, 1_000_000, true),
};

export class Faults {
  private current: FaultConfig;
  private readonly random: () => number;
  readonly counters: FaultCounters = { delayed: 0, failed: 0, dropped: 0 };

  constructor(initial: Partial<FaultConfig> = {}, random: () => number = Math.random) {
    this.random = random;
    this.current = { ...DEFAULT_FAULTS };
    this.set(initial);
  }

  /** A copy of the current configuration. */
  get config(): FaultConfig {
    return { ...this.current };
  }

  /** Merges a partial configuration (validated as a whole; nothing changes on error). */
  set(partial: Partial<FaultConfig> | Record<string, unknown>): FaultConfig {
    if (typeof partial !== 'object' || partial === null || Array.isArray(partial)) {
      throw new FaultConfigError('Fault configuration must be a JSON object');
    }
    const next = { ...this.current };
    for (const [name, value] of Object.entries(partial)) {
      if (value === undefined) continue;
      const check = CHECKS[name as keyof FaultConfig];
      if (!check) {
        throw new FaultConfigError(`Unknown fault option "${name}"; known options: ${Object.keys(CHECKS).join(', ')}`);
      }
      const problem = check(value);
      if (problem) throw new FaultConfigError(`Fault option "${name}" ${problem}, got ${JSON.stringify(value)}`);
      (next as Record<string, unknown>)[name] = value;
    }
    this.current = next;
    return this.config;
  }

  /** Back to no faults at all. */
  reset(): FaultConfig {
    this.current = { ...DEFAULT_FAULTS };
    return this.config;
  }

  /** Step 1: the delay to wait before handling, in ms. */
  latency(): number {
    if (this.current.latencyMs > 0) this.counters.delayed++;
    return this.current.latencyMs;
  }

  /** Step 2: whether to answer with an injected failure instead of handling the request. */
  shouldFail(): boolean {
    const fail = this.roll('failNext', 'failureRate');
    if (fail) this.counters.failed++;
    return fail;
  }

  /** Step 4: whether to destroy the socket instead of sending the (already applied) response. */
  shouldDrop(): boolean {
    const drop = this.roll('dropNext', 'dropResponseRate');
    if (drop) this.counters.dropped++;
    return drop;
  }

  private roll(next: 'failNext' | 'dropNext', rate: 'failureRate' | 'dropResponseRate'): boolean {
    if (this.current[next] > 0) {
      this.current[next]--;
      return true;
    }
    return this.current[rate] > 0 && this.random() < this.current[rate];
  }
}
