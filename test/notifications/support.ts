// Builds signed V2 notifications for one subscription at a time and reads back what the
// service stored for it. Each scenario uses its own originalTransactionId, so tests can
// share one app (one database) per file.
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import type { Database } from '../../src/db/client.js';
import { notifications, subscriptions, transactions } from '../../src/db/schema.js';
import { evaluatePurchase, type PurchaseState } from '../../src/entitlements/state.model.js';
import { renewalFromRow, statusFromRow, transactionFromRow } from '../../src/purchases/purchases.repository.js';
import { MONTH, T0, TEST_BUNDLE_ID, TEST_MONTHLY_PRODUCT_ID } from '../helpers/constants.js';
import type { TestPki } from '../helpers/pki.js';

export { DAY, MONTH, T0 } from '../helpers/constants.js';

export interface NotificationSpec {
  type: string;
  subtype?: string;
  uuid?: string;
  signedDate: number;
  /** Period index of the carried transaction, or explicit payload fields; null for none. */
  period?: number | null;
  transaction?: Record<string, unknown>;
  /** Renewal-info fields; null for none. */
  renewal?: Record<string, unknown> | null;
  /** data.status; null to leave it out. */
  status?: number | null;
  environment?: string;
  bundleId?: string;
}

let counter = 0;

/** A fresh originalTransactionId, distinct from every other in this process. */
export function freshOriginalTransactionId(): string {
  counter += 1;
  return `41${String(process.pid % 10_000).padStart(4, '0')}${String(counter).padStart(6, '0')}0000`.slice(0, 16);
}

export interface Scenario {
  originalTransactionId: string;
  productId: string;
  transactionId(period: number): string;
  /** A period's transaction payload: period n runs [T0 + n months, T0 + (n+1) months). */
  transaction(period: number, fields?: Record<string, unknown>): Record<string, unknown>;
  sign(spec: NotificationSpec): string;
}

export function scenario(pki: TestPki, options: { productId?: string; start?: number; originalTransactionId?: string; bundleId?: string } = {}): Scenario {
  const bundleId = options.bundleId ?? TEST_BUNDLE_ID;
  const originalTransactionId = options.originalTransactionId ?? freshOriginalTransactionId();
  const productId = options.productId ?? TEST_MONTHLY_PRODUCT_ID;
  const start = options.start ?? T0;
  const transactionId = (period: number) => `${originalTransactionId.slice(0, -3)}${String(period + 1).padStart(3, '0')}`;
  const transaction = (period: number, fields: Record<string, unknown> = {}) => ({
    transactionId: period === 0 ? originalTransactionId : transactionId(period),
    originalTransactionId,
    webOrderLineItemId: `${originalTransactionId}${period}`,
    bundleId,
    productId,
    subscriptionGroupIdentifier: '21000000',
    purchaseDate: start + period * MONTH,
    originalPurchaseDate: start,
    expiresDate: start + (period + 1) * MONTH,
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate: start + period * MONTH,
    environment: 'Sandbox',
    transactionReason: period === 0 ? 'PURCHASE' : 'RENEWAL',
    storefront: 'USA',
    price: 4990,
    currency: 'USD',
    ...fields,
  });
  return {
    originalTransactionId,
    productId,
    transactionId: (period) => (period === 0 ? originalTransactionId : transactionId(period)),
    transaction,
    sign(spec) {
      const environment = spec.environment ?? 'Sandbox';
      const data: Record<string, unknown> = { bundleId: spec.bundleId ?? bundleId, bundleVersion: '1', environment };
      const carried =
        spec.period === null || (spec.period === undefined && spec.transaction === undefined)
          ? undefined
          : { ...transaction(spec.period ?? 0), signedDate: spec.signedDate, ...spec.transaction };
      if (carried) data.signedTransactionInfo = pki.sign(carried);
      if (spec.renewal !== null) {
        data.signedRenewalInfo = pki.sign({
          originalTransactionId,
          productId,
          autoRenewProductId: productId,
          autoRenewStatus: 1,
          signedDate: spec.signedDate,
          environment,
          recentSubscriptionStartDate: start,
          ...spec.renewal,
        });
      }
      if (spec.status !== null && spec.status !== undefined) data.status = spec.status;
      const payload: Record<string, unknown> = {
        notificationType: spec.type,
        notificationUUID: spec.uuid ?? randomUUID(),
        data,
        version: '2.0',
        signedDate: spec.signedDate,
      };
      if (spec.subtype !== undefined) payload.subtype = spec.subtype;
      return pki.sign(payload);
    },
  };
}

export function post(app: App, signedPayload: string) {
  return app.inject({ method: 'POST', url: '/webhooks/apple/v2', payload: { signedPayload } });
}

/** Posts and insists on a 200; returns the answered status. */
export async function deliver(app: App, signedPayload: string): Promise<'processed' | 'duplicate'> {
  const response = await post(app, signedPayload);
  if (response.statusCode !== 200) throw new Error(`webhook answered ${response.statusCode}: ${response.body}`);
  return (response.json() as { status: 'processed' | 'duplicate' }).status;
}

export interface StoredPurchase {
  transactions: ReturnType<typeof transactionFromRow>[];
  subscription: typeof subscriptions.$inferSelect | undefined;
  state(now: number): PurchaseState | null;
}

export async function storedPurchase(db: Database, originalTransactionId: string): Promise<StoredPurchase> {
  const rows = await db.select().from(transactions).where(eq(transactions.originalTransactionId, originalTransactionId));
  const [subscription] = await db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, originalTransactionId));
  const stored = rows.map(transactionFromRow).sort((a, b) => a.purchaseDate.getTime() - b.purchaseDate.getTime());
  return {
    transactions: stored,
    subscription,
    state: (now) =>
      evaluatePurchase({
        transactions: stored,
        renewal: subscription ? renewalFromRow(subscription) : undefined,
        status: subscription ? statusFromRow(subscription) : undefined,
        now: new Date(now),
      }),
  };
}

/** Transactions and subscription rows without write times: equal exactly when the state is. */
export async function purchaseSnapshot(db: Database, originalTransactionId: string) {
  const txRows = await db.select().from(transactions).where(eq(transactions.originalTransactionId, originalTransactionId));
  const subRows = await db.select().from(subscriptions).where(eq(subscriptions.originalTransactionId, originalTransactionId));
  return {
    transactions: txRows.map(({ updatedAt: _u, ...row }) => row).sort((a, b) => (a.transactionId < b.transactionId ? -1 : 1)),
    subscriptions: subRows.map(({ updatedAt: _u, ...row }) => row),
  };
}

const decodeJws = (jws: string | null) => (jws === null ? null : Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8'));

/**
 * A purchase snapshot with its signed evidence decoded: a stored JWS becomes its payload,
 * and a reference to a notification becomes the payload of the JWS that notification's
 * signedPayload carries. Two deliveries of equal data in different orders may leave
 * references to different notifications, but never different evidence; ECDSA signatures
 * differ between signings, payloads do not.
 */
export async function decodedSnapshot(db: Database, originalTransactionId: string) {
  const snapshot = await purchaseSnapshot(db, originalTransactionId);
  const nested = async (notificationId: string | null, field: 'signedTransactionInfo' | 'signedRenewalInfo') => {
    if (notificationId === null) return null;
    const [row] = await db.select({ payload: notifications.payload }).from(notifications).where(eq(notifications.id, notificationId));
    if (row === undefined) throw new Error(`evidence names notification ${notificationId}, which is not stored`);
    const data = (JSON.parse(decodeJws(row.payload)!) as { data?: Record<string, string> }).data;
    return decodeJws(data?.[field] ?? null);
  };
  return {
    transactions: await Promise.all(
      snapshot.transactions.map(async (row) => ({
        ...row,
        signedTransaction: decodeJws(row.signedTransaction),
        signedInNotification: await nested(row.signedInNotification, 'signedTransactionInfo'),
      })),
    ),
    subscriptions: await Promise.all(
      snapshot.subscriptions.map(async (row) => ({
        ...row,
        signedRenewalInfo: decodeJws(row.signedRenewalInfo),
        renewalSignedInNotification: await nested(row.renewalSignedInNotification, 'signedRenewalInfo'),
      })),
    ),
  };
}
