/**
 * A per-principal token bucket: each caller may send `burst` requests at once and
 * `requestsPerSecond` on average. Hand-written because it is twenty lines and has to key on the
 * principal that `authorize` returns, which the server only knows after its own checks.
 */

export interface RateLimitOptions {
  /** Sustained requests per second per caller. */
  requestsPerSecond: number;
  /** Requests a caller may send at once after being idle. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = Object.freeze({ requestsPerSecond: 100, burst: 200 });

/** Buckets kept before idle (full) ones are forgotten, so many callers cannot grow memory without end. */
const MAX_BUCKETS = 10_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly options: RateLimitOptions,
    private readonly clock: () => number = () => performance.now(),
  ) {
    if (!(options.requestsPerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError('[rxsync] rateLimit needs requestsPerSecond > 0 and burst >= 1 (or rateLimit: false)');
    }
  }

  /** Takes one token for `caller`: 0 when allowed, else the seconds to wait (at least 1). */
  take(caller: string): number {
    const now = this.clock();
    const { requestsPerSecond, burst } = this.options;
    const bucket = this.buckets.get(caller) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * requestsPerSecond);
    bucket.at = now;
    if (!this.buckets.has(caller)) this.forgetIdle(now);
    this.buckets.set(caller, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / requestsPerSecond));
  }

  private forgetIdle(now: number): void {
    if (this.buckets.size < MAX_BUCKETS) return;
    const { requestsPerSecond, burst } = this.options;
    for (const [caller, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * requestsPerSecond >= burst) this.buckets.delete(caller);
    }
  }
}
