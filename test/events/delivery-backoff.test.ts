import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, nextAttemptAt, retryDelayMs } from '../../src/events/delivery-backoff.js';

describe('delivery backoff', () => {
  it('retries the first failure within 10 seconds, whatever the jitter', () => {
    for (const r of [0, 0.5, 0.999999]) {
      const delay = retryDelayMs(DEFAULT_BACKOFF, 1, () => r);
      expect(delay).toBeGreaterThan(0);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
  });

  it('doubles the step up to the cap, with jitter between half the step and the step', () => {
    expect(retryDelayMs(DEFAULT_BACKOFF, 3, () => 0)).toBe(10_000);
    expect(retryDelayMs(DEFAULT_BACKOFF, 3, () => 0.999999)).toBeCloseTo(20_000, -1);
    expect(retryDelayMs(DEFAULT_BACKOFF, 200, () => 0.999999)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxDelayMs);
    expect(retryDelayMs(DEFAULT_BACKOFF, 200, () => 0)).toBe(DEFAULT_BACKOFF.maxDelayMs / 2);
  });

  it('keeps retrying for three days and then gives up', () => {
    const startedAt = new Date('2026-12-01T00:00:00Z');
    let now = startedAt;
    let attempts = 0;
    const random = () => 0.999999;
    for (;;) {
      attempts += 1;
      const next = nextAttemptAt(DEFAULT_BACKOFF, { attempts, startedAt, now, random });
      if (next === null) break;
      now = next;
      expect(attempts).toBeLessThan(1_000);
    }
    expect(now.getTime() - startedAt.getTime()).toBeGreaterThanOrEqual(3 * 24 * 3_600_000);
    expect(now.getTime() - startedAt.getTime()).toBeLessThan(3 * 24 * 3_600_000 + DEFAULT_BACKOFF.maxDelayMs);
  });
});
