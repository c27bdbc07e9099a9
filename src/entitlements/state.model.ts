import { type Environment, type OwnershipType, PRODUCT_TYPE, type ProductType, SUBSCRIPTION_STATUS } from '../apple/types.js';
import type { StoredRenewal, StoredStatus, StoredTransaction } from '../purchases/purchase-update.js';
import { addIsoDuration, type IsoDuration } from './iso-duration.js';

// What one purchase (one originalTransactionId) grants at a given instant, from the
// records the merge rules keep. Dates decide first; Apple's status and renewal info only
// refine what happens after a period ends, because a notification that says "active"
// does not make a period that has ended run longer.

export type EntitlementStatus = 'active' | 'grace_period' | 'billing_retry' | 'expired' | 'revoked';

/** What the state model reads of a transaction (entitlement reads fetch only this). */
export type PeriodRecord = Pick<
  StoredTransaction,
  | 'transactionId'
  | 'originalTransactionId'
  | 'productId'
  | 'productType'
  | 'environment'
  | 'purchaseDate'
  | 'originalPurchaseDate'
  | 'expiresDate'
  | 'ownershipType'
  | 'revocationDate'
  | 'isUpgraded'
  | 'appAccountToken'
  | 'signedDate'
>;

/** What the state model reads of a renewal info. */
export type RenewalSignals = Pick<StoredRenewal, 'autoRenewProductId' | 'autoRenewStatus' | 'isInBillingRetryPeriod' | 'gracePeriodExpiresDate' | 'signedDate'>;

export interface PurchaseState {
  originalTransactionId: string;
  transactionId: string;
  productId: string;
  productType: ProductType;
  environment: Environment;
  status: EntitlementStatus;
  /** True exactly for `active` and `grace_period`. */
  active: boolean;
  /** The transaction whose period the status describes. */
  current: PeriodRecord;
  purchaseDate: Date;
  originalPurchaseDate: Date;
  expiresDate: Date | null;
  /** Only while the lapse it belongs to matters (grace period or billing retry). */
  gracePeriodExpiresDate: Date | null;
  willRenew: boolean | null;
  autoRenewProductId: string | null;
  ownershipType: OwnershipType | null;
  revocationDate: Date | null;
  appAccountToken: string | null;
}

export interface PurchaseInput {
  transactions: readonly PeriodRecord[];
  renewal?: RenewalSignals | undefined;
  status?: StoredStatus | undefined;
  now: Date;
  /** The catalog's duration of a non-renewing subscription (ENTITLEMENTS_FILE); absent: none known. */
  durationOf?: ((productId: string) => IsoDuration | null) | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Apple stops retrying a failed renewal after 60 days; past that, nothing will recover it. */
export const BILLING_RETRY_MAX_MS = 60 * DAY_MS;

/**
 * How long before a period's purchaseDate the notification announcing it may be signed.
 * Apple charges renewals up to a day ahead (real Sandbox DID_RENEW notifications are
 * signed before the new transaction's purchaseDate), so status and renewal info signed
 * within this lead still describe the current period.
 */
export const RENEWAL_LEAD_MS = DAY_MS;

const { autoRenewable: AUTO_RENEWABLE, nonRenewing: NON_RENEWING, consumable: CONSUMABLE } = PRODUCT_TYPE;
const { active: ACTIVE, expired: EXPIRED, billingRetry: BILLING_RETRY, gracePeriod: GRACE_PERIOD, revoked: REVOKED } = SUBSCRIPTION_STATUS;

/** Consumables are recorded but grant nothing lasting. */
export function grantsEntitlement(productType: ProductType): boolean {
  return productType !== CONSUMABLE;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const time = (d: Date | null, ifNull: number) => (d === null ? ifNull : d.getTime());

// Latest period first; ties broken on content that is the same in every arrival order.
function byPeriodDescending(a: PeriodRecord, b: PeriodRecord): number {
  return (
    b.purchaseDate.getTime() - a.purchaseDate.getTime() ||
    time(b.expiresDate, Infinity) - time(a.expiresDate, Infinity) ||
    compareText(b.transactionId, a.transactionId)
  );
}

const covers = (t: PeriodRecord, now: Date) => t.revocationDate === null && (t.expiresDate === null || now.getTime() < t.expiresDate.getTime());

/**
 * The period access is judged on: the latest non-upgraded transaction by purchaseDate.
 *
 * When that latest one is refunded or revoked, an older non-revoked period that still
 * runs at `now` takes over: the customer paid for it and its refund was not asked for
 * (this happens when Apple charges a renewal ahead of the previous period's end and the
 * renewal alone is refunded). With no such period the revoked one stays current and the
 * purchase is `revoked`. Upgraded transactions are used only when nothing else is known
 * yet (the upgrade's own transaction has not arrived), so the purchase does not vanish.
 */
function currentPeriod(transactions: readonly PeriodRecord[], now: Date): PeriodRecord | undefined {
  const sorted = [...transactions].sort(byPeriodDescending);
  const notUpgraded = sorted.filter((t) => !t.isUpgraded);
  const pool = notUpgraded.length > 0 ? notUpgraded : sorted;
  const latest = pool[0];
  if (latest === undefined || latest.revocationDate === null) return latest;
  return pool.find((t) => covers(t, now)) ?? latest;
}

/** Signed data from before the current period began describes an earlier period. */
const describesPeriod = (signedAt: Date, current: PeriodRecord) => signedAt.getTime() >= current.purchaseDate.getTime() - RENEWAL_LEAD_MS;

/**
 * Whether Apple's status describes the current period. The renewal lead is for the
 * notification announcing a renewal charged ahead; a revocation (5) never precedes what it
 * revokes, so a 5 signed before the period began is about an earlier transaction (a refund
 * followed by a new purchase within the day). A 5 is also not the current period's when a
 * later transaction is revoked and an older one still runs: it is that later one's refund.
 */
function statusDescribes(status: StoredStatus, current: PeriodRecord, transactions: readonly PeriodRecord[]): boolean {
  if (!describesPeriod(status.statusSignedDate, current)) return false;
  if (status.appleStatus !== REVOKED) return true;
  if (status.statusSignedDate.getTime() < current.purchaseDate.getTime()) return false;
  const laterRevoked = transactions.some((t) => !t.isUpgraded && t.revocationDate !== null && t.purchaseDate.getTime() > current.purchaseDate.getTime());
  return current.revocationDate !== null || !laterRevoked;
}

interface LapseSignals {
  /** Apple's status, when it describes the current period. */
  appleStatus: number | null;
  /** The renewal info, when it describes the current period. */
  renewal: RenewalSignals | undefined;
}

type Lapse = 'not_retrying' | 'retrying' | 'retrying_without_grace';

/**
 * Whether billing is still being retried after the period ended. Status and renewal info
 * can disagree when one is newer; the newer one speaks (the status on a tie, as both then
 * come from the same notification). Apple's status 3 means the grace period is over even
 * if our clock says the renewal's gracePeriodExpiresDate has not passed yet.
 */
function lapseOf(signals: LapseSignals, status: StoredStatus | undefined): Lapse {
  const fromStatus: Lapse | null =
    signals.appleStatus === GRACE_PERIOD
      ? 'retrying'
      : signals.appleStatus === BILLING_RETRY
        ? 'retrying_without_grace'
        : signals.appleStatus === ACTIVE || signals.appleStatus === EXPIRED
          ? 'not_retrying'
          : null;
  const flag = signals.renewal?.isInBillingRetryPeriod ?? null;
  const fromRenewal: Lapse | null = flag === null ? null : flag ? 'retrying' : 'not_retrying';
  if (fromStatus === null) return fromRenewal ?? 'not_retrying';
  if (fromRenewal === null || status === undefined || signals.renewal === undefined) return fromStatus;
  return signals.renewal.signedDate.getTime() > status.statusSignedDate.getTime() ? fromRenewal : fromStatus;
}

function evaluateStatus(current: PeriodRecord, signals: LapseSignals, status: StoredStatus | undefined, now: Date): EntitlementStatus {
  if (current.revocationDate !== null || signals.appleStatus === REVOKED) return 'revoked';
  const expires = current.expiresDate;
  // Non-consumables, and non-renewing subscriptions sold without an end date, last until revoked.
  if (expires === null) return 'active';
  if (now.getTime() < expires.getTime()) return 'active';
  if (current.productType !== AUTO_RENEWABLE) return 'expired';

  const lapse = lapseOf(signals, status);
  if (lapse === 'not_retrying') return 'expired';
  const grace = signals.renewal?.gracePeriodExpiresDate ?? null;
  if (lapse === 'retrying' && grace !== null && now.getTime() < grace.getTime()) return 'grace_period';
  if (now.getTime() - expires.getTime() < BILLING_RETRY_MAX_MS) return 'billing_retry';
  return 'expired';
}

/**
 * What the renewal info says about the next renewal of the current period. Renewal info
 * signed before the period began was written about an earlier one, unless it announces a
 * renewal charged ahead. A renewal has happened since, so "auto-renew on" still stands
 * (Apple sends new renewal info when it is turned off), but "off" and the product it
 * would renew to no longer describe the period (the customer resubscribed or changed
 * plan): both are answered as unknown (null) until newer renewal info arrives.
 */
function renewalOutlook(renewal: RenewalSignals | undefined, current: PeriodRecord): { willRenew: boolean | null; autoRenewProductId: string | null } {
  if (current.productType !== AUTO_RENEWABLE || renewal === undefined) return { willRenew: null, autoRenewProductId: null };
  const willRenew = renewal.autoRenewStatus === 1 ? true : renewal.autoRenewStatus === 0 ? false : null;
  // Within the renewal lead only renewal info that announces a renewal (auto-renew on) is
  // about the new period: "off" an hour before a new purchase is the refund or
  // cancellation that came before it.
  const signedAfterStart = renewal.signedDate.getTime() >= current.purchaseDate.getTime();
  if (signedAfterStart || (willRenew === true && describesPeriod(renewal.signedDate, current))) {
    return { willRenew, autoRenewProductId: renewal.autoRenewProductId ?? null };
  }
  if (willRenew !== true) return { willRenew: null, autoRenewProductId: null };
  return { willRenew, autoRenewProductId: renewal.autoRenewProductId === current.productId ? current.productId : null };
}

/**
 * Apple sends no expiresDate for a non-renewing subscription: the app decides how long it
 * lasts, so the catalog's duration from its purchaseDate is its period. Without one it
 * lasts until revoked (the caller warns about the missing duration).
 */
function withCatalogEnd(t: PeriodRecord, durationOf: PurchaseInput['durationOf']): PeriodRecord {
  if (t.productType !== NON_RENEWING || t.expiresDate !== null) return t;
  const duration = durationOf?.(t.productId) ?? null;
  return duration === null ? t : { ...t, expiresDate: addIsoDuration(t.purchaseDate, duration) };
}

/** A non-renewing subscription that lasts until revoked because the catalog gives it no duration. */
export function lacksDuration(state: PurchaseState): boolean {
  return state.productType === NON_RENEWING && state.expiresDate === null;
}

/**
 * The entitlement view of one purchase at `now`, or null when it grants nothing to
 * evaluate (no transactions, or a consumable).
 */
export function evaluatePurchase(input: PurchaseInput): PurchaseState | null {
  const { renewal, status, now } = input;
  const transactions = input.transactions.map((t) => withCatalogEnd(t, input.durationOf));
  const current = currentPeriod(transactions, now);
  if (current === undefined || !grantsEntitlement(current.productType)) return null;

  const signals: LapseSignals = {
    appleStatus: status !== undefined && statusDescribes(status, current, transactions) ? status.appleStatus : null,
    renewal: renewal !== undefined && describesPeriod(renewal.signedDate, current) ? renewal : undefined,
  };
  const entitlementStatus = evaluateStatus(current, signals, status, now);
  const inLapse = entitlementStatus === 'grace_period' || entitlementStatus === 'billing_retry';
  const earliestPurchase = Math.min(...transactions.map((t) => t.purchaseDate.getTime()));

  return {
    originalTransactionId: current.originalTransactionId,
    transactionId: current.transactionId,
    productId: current.productId,
    productType: current.productType,
    environment: current.environment,
    status: entitlementStatus,
    active: entitlementStatus === 'active' || entitlementStatus === 'grace_period',
    current,
    purchaseDate: current.purchaseDate,
    originalPurchaseDate: current.originalPurchaseDate ?? new Date(earliestPurchase),
    expiresDate: current.expiresDate,
    gracePeriodExpiresDate: inLapse ? (signals.renewal?.gracePeriodExpiresDate ?? null) : null,
    ...renewalOutlook(renewal, current),
    ownershipType: current.ownershipType,
    revocationDate: current.revocationDate,
    appAccountToken: current.appAccountToken,
  };
}

const isProduction = (s: PurchaseState) => Number(s.environment === 'Production');

/**
 * The purchase that best represents an entitlement several purchases grant
 * (docs/entitlement-answer.md): active before inactive, because access is what the answer
 * is for; then Production before Sandbox, because a real payment is what the app backend
 * should see (renewal, expiry, product), not a TestFlight test of the same user; then the
 * later expiry (no expiry ranks highest), then the later purchase. The last tie-break makes
 * the choice independent of argument order.
 */
export function pickBest(a: PurchaseState, b: PurchaseState): PurchaseState {
  const order =
    Number(b.active) - Number(a.active) ||
    isProduction(b) - isProduction(a) ||
    time(b.expiresDate, Infinity) - time(a.expiresDate, Infinity) ||
    b.purchaseDate.getTime() - a.purchaseDate.getTime() ||
    compareText(b.originalTransactionId, a.originalTransactionId) ||
    compareText(b.transactionId, a.transactionId);
  return order <= 0 ? a : b;
}
