// Session-level advisory locks: one holder across processes (replicas starting together,
// the periodic recovery job). Purchases are locked per transaction instead, by
// lockPurchases (src/purchases/purchases.repository.ts).

interface LockSession {
  query(text: string, params: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * Runs `fn` while `session` holds the advisory lock `key`, and unlocks after. `wait`
 * queues behind another holder; `try` gives up at once (`acquired: false`).
 */
export async function holdingAdvisoryLock<T>(
  session: LockSession,
  key: bigint,
  mode: 'wait' | 'try',
  fn: () => Promise<T>,
): Promise<{ acquired: true; result: T } | { acquired: false }> {
  const { rows } = await session.query(mode === 'wait' ? 'select pg_advisory_lock($1), true as locked' : 'select pg_try_advisory_lock($1) as locked', [
    key.toString(),
  ]);
  if (rows[0]?.locked !== true) return { acquired: false };
  try {
    return { acquired: true, result: await fn() };
  } finally {
    await session.query('select pg_advisory_unlock($1)', [key.toString()]);
  }
}
