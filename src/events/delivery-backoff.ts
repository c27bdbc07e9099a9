// When a failed delivery is tried again: exponential backoff with jitter, so a URL that
// comes back is not hit by every pending event at the same instant.

export interface BackoffPolicy {
  /** Delay before the first retry, before jitter (the first retry comes within this). */
  firstDelayMs: number;
  /** No delay grows past this. */
  maxDelayMs: number;
  /** A delivery still failing this long after it started is marked failed. */
  giveUpAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  firstDelayMs: 5_000,
  maxDelayMs: 4 * 3_600_000,
  giveUpAfterMs: 3 * 24 * 3_600_000,
};

/**
 * The delay after the `attempts`-th failed attempt (1 for the first): the exponential step
 * scaled by a jitter in [0.5, 1) ("equal jitter"), so it never exceeds the step.
 * `random` returns a number in [0, 1).
 */
export function retryDelayMs(policy: BackoffPolicy, attempts: number, random: () => number): number {
  const step = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
  return Math.round(step * (0.5 + random() / 2));
}

/** After a failed attempt at `now`: the next attempt's time, or null when the delivery has had its time. */
export function nextAttemptAt(policy: BackoffPolicy, input: { attempts: number; startedAt: Date; now: Date; random: () => number }): Date | null {
  if (input.now.getTime() - input.startedAt.getTime() >= policy.giveUpAfterMs) return null;
  return new Date(input.now.getTime() + retryDelayMs(policy, input.attempts, input.random));
}
