// The year-like life of one subscription the ingest property tests deliver in every order
// (ingest.property.test.ts; per app, interleaved, in test/apps/ingest-several-apps.property.test.ts).
import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/db/client.js';
import { HOUR } from '../helpers/constants.js';
import { DAY, decodedSnapshot, MONTH, type Scenario, storedPurchase, T0 } from './support.js';

/** A year-like life of one subscription, as Apple would notify it (each with a fixed UUID). */
export function realisticSequence(s: Scenario): string[] {
  const uuid = () => randomUUID();
  const grace = T0 + 3 * MONTH + 16 * DAY;
  return [
    s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', uuid: uuid(), signedDate: T0, period: 0, status: 1 }),
    s.sign({
      type: 'DID_CHANGE_RENEWAL_STATUS',
      subtype: 'AUTO_RENEW_DISABLED',
      uuid: uuid(),
      signedDate: T0 + 5 * DAY,
      period: 0,
      status: 1,
      renewal: { autoRenewStatus: 0 },
    }),
    s.sign({ type: 'DID_CHANGE_RENEWAL_STATUS', subtype: 'AUTO_RENEW_ENABLED', uuid: uuid(), signedDate: T0 + 6 * DAY, period: 0, status: 1 }),
    s.sign({ type: 'DID_RENEW', uuid: uuid(), signedDate: T0 + MONTH - HOUR, period: 1, status: 1 }),
    s.sign({
      type: 'DID_CHANGE_RENEWAL_PREF',
      subtype: 'DOWNGRADE',
      uuid: uuid(),
      signedDate: T0 + MONTH + 2 * DAY,
      period: 1,
      status: 1,
      renewal: { autoRenewProductId: 'com.example.basic' },
    }),
    s.sign({ type: 'DID_RENEW', uuid: uuid(), signedDate: T0 + 2 * MONTH - HOUR, period: 2, status: 1, renewal: { autoRenewProductId: 'com.example.basic' } }),
    // A refund of an older period, signed after the newer renewal.
    s.sign({
      type: 'REFUND',
      uuid: uuid(),
      signedDate: T0 + 2 * MONTH + 3 * DAY,
      period: 1,
      transaction: { revocationDate: T0 + 2 * MONTH + 3 * DAY, revocationReason: 0 },
      status: 1,
      renewal: { autoRenewProductId: 'com.example.basic' },
    }),
    s.sign({ type: 'CONSUMPTION_REQUEST', uuid: uuid(), signedDate: T0 + 2 * MONTH + HOUR, period: 1, renewal: null, status: null }),
    s.sign({
      type: 'DID_FAIL_TO_RENEW',
      subtype: 'GRACE_PERIOD',
      uuid: uuid(),
      signedDate: T0 + 3 * MONTH + HOUR,
      period: 2,
      status: 4,
      renewal: { autoRenewProductId: 'com.example.basic', isInBillingRetryPeriod: true, gracePeriodExpiresDate: grace, expirationIntent: 2 },
    }),
    s.sign({
      type: 'DID_RENEW',
      subtype: 'BILLING_RECOVERY',
      uuid: uuid(),
      signedDate: T0 + 3 * MONTH + 5 * DAY,
      period: 3,
      transaction: { purchaseDate: T0 + 3 * MONTH + 5 * DAY, expiresDate: T0 + 4 * MONTH + 5 * DAY },
      status: 1,
      renewal: { autoRenewProductId: 'com.example.basic', isInBillingRetryPeriod: false },
    }),
    s.sign({
      type: 'DID_CHANGE_RENEWAL_STATUS',
      subtype: 'AUTO_RENEW_DISABLED',
      uuid: uuid(),
      signedDate: T0 + 3 * MONTH + 10 * DAY,
      period: 3,
      transaction: { purchaseDate: T0 + 3 * MONTH + 5 * DAY, expiresDate: T0 + 4 * MONTH + 5 * DAY },
      status: 1,
      renewal: { autoRenewProductId: 'com.example.basic', autoRenewStatus: 0 },
    }),
    s.sign({
      type: 'EXPIRED',
      subtype: 'VOLUNTARY',
      uuid: uuid(),
      signedDate: T0 + 4 * MONTH + 5 * DAY + HOUR,
      period: 3,
      transaction: { purchaseDate: T0 + 3 * MONTH + 5 * DAY, expiresDate: T0 + 4 * MONTH + 5 * DAY },
      status: 2,
      renewal: { autoRenewProductId: 'com.example.basic', autoRenewStatus: 0, expirationIntent: 1 },
    }),
  ];
}

// After the last period began: the model judges the records it has, not their history.
const EVALUATED_AT = [T0 + 3 * MONTH + 20 * DAY, T0 + 4 * MONTH + 6 * DAY, T0 + 5 * MONTH];

/**
 * The stored rows with the scenario's ids replaced by a placeholder and the signed
 * evidence decoded (decodedSnapshot), so two scenarios with equal state compare equal.
 */
export async function normalisedState(db: Database, s: Scenario) {
  const rows = await decodedSnapshot(db, s.originalTransactionId);
  const stored = await storedPurchase(db, s.originalTransactionId);
  const states = EVALUATED_AT.map((now) => {
    const state = stored.state(now);
    return state && { status: state.status, transactionId: state.transactionId, expiresDate: state.expiresDate };
  });
  return JSON.parse(JSON.stringify({ rows, states }).replaceAll(s.originalTransactionId.slice(0, -3), '#')) as unknown;
}
