import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/operators/index.js';

// Found by mutation testing: no test told a Retry-After of 0 or a negative one from the backoff.
describe('backoffDelay: what the server asked for, where it makes sense', () => {
  const config = { baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 };

  it('Retry-After: 0 means at once, not the backoff', () => {
    expect(backoffDelay(3, config, 0)).toBe(0);
  });

  it('a negative retryAfterMs (a custom transport\'s mistake) is ignored: the backoff applies', () => {
    expect(backoffDelay(3, config, -5)).toBe(400);
  });
});
