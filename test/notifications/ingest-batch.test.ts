import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { notifications, purchaseLinks } from '../../src/db/schema.js';
import { backendName } from '../helpers/database.js';
import { useTestApp, useTestPki } from '../helpers/fixtures.js';
import { DAY, decodedSnapshot, deliver, MONTH, post, type Scenario, scenario, T0 } from './support.js';

/** A short life of one subscription bought with an appAccountToken; some steps re-sign the same transaction. */
function life(s: Scenario, token: string): string[] {
  const t = { appAccountToken: token };
  return [
    s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', uuid: randomUUID(), signedDate: T0, period: 0, transaction: t, status: 1 }),
    s.sign({
      type: 'DID_CHANGE_RENEWAL_STATUS',
      subtype: 'AUTO_RENEW_DISABLED',
      uuid: randomUUID(),
      signedDate: T0 + 5 * DAY,
      period: 0,
      transaction: t,
      status: 1,
      renewal: { autoRenewStatus: 0 },
    }),
    s.sign({ type: 'DID_RENEW', uuid: randomUUID(), signedDate: T0 + MONTH, period: 1, transaction: t, status: 1 }),
    s.sign({
      type: 'REFUND',
      uuid: randomUUID(),
      signedDate: T0 + MONTH + 3 * DAY,
      period: 0,
      transaction: { ...t, revocationDate: T0 + MONTH + 3 * DAY, revocationReason: 0 },
      status: 1,
    }),
    s.sign({
      type: 'DID_FAIL_TO_RENEW',
      subtype: 'GRACE_PERIOD',
      uuid: randomUUID(),
      signedDate: T0 + 2 * MONTH,
      period: 1,
      transaction: t,
      status: 4,
      renewal: { isInBillingRetryPeriod: true, gracePeriodExpiresDate: T0 + 2 * MONTH + 16 * DAY },
    }),
  ];
}

/** Rows of one purchase with their signed evidence decoded (decodedSnapshot), and its links. */
async function state(db: Database, originalTransactionId: string) {
  const links = await db.select({ userId: purchaseLinks.userId }).from(purchaseLinks).where(eq(purchaseLinks.originalTransactionId, originalTransactionId));
  return { ...(await decodedSnapshot(db, originalTransactionId)), links };
}

describe(`notifications written together in one batch (${backendName})`, () => {
  const trusted = useTestPki();
  const batched = useTestApp(() => ({ pki: trusted.pki, env: { RATE_LIMIT_WEBHOOK_PER_MINUTE: '0' } }));
  const sequential = useTestApp(() => ({ pki: trusted.pki, env: { RATE_LIMIT_WEBHOOK_PER_MINUTE: '0' } }));

  it('end in the same rows and links as the same notifications delivered one at a time, duplicates answered once', async () => {
    const purchases = Array.from({ length: 6 }, () => ({ s: scenario(trusted.pki), token: randomUUID() }));
    // Two purchases bought by one user.
    purchases[1]!.token = purchases[0]!.token;
    const payloads = purchases.flatMap(({ s, token }) => life(s, token));

    for (const payload of payloads) await deliver(sequential.app, payload);

    // All at once, newest first, every one twice: concurrent requests share batches.
    const deliveries = [...payloads].reverse().flatMap((payload) => [payload, payload]);
    const answers = await Promise.all(deliveries.map((payload) => post(batched.app, payload)));
    for (const answer of answers) expect(answer.statusCode, answer.body).toBe(200);
    const statuses = answers.map((answer) => (answer.json() as { status: string }).status);
    expect(statuses.filter((status) => status === 'processed')).toHaveLength(payloads.length);
    expect(statuses.filter((status) => status === 'duplicate')).toHaveLength(payloads.length);

    for (const { s } of purchases) {
      expect(await state(batched.deps.database.db, s.originalTransactionId)).toEqual(await state(sequential.deps.database.db, s.originalTransactionId));
    }
    const stored = await batched.deps.database.db.select({ id: notifications.id }).from(notifications);
    expect(stored).toHaveLength(payloads.length);
  });
});
