import type { Environment } from '../apple/types.js';
import type { AppPurchaseRule } from './entitlement-map.js';
import type { EntitlementView } from './entitlements.model.js';

// Entitlements that come from something other than an App Store purchase (SPEC `source`):
// an operator's grant, and the catalog's `appPurchase` rule over the user's verified
// AppTransaction. Pure: the read model evaluates them at the instant it answers.

/** An operator's grant as the entitlement read needs it. */
export interface GrantRecord {
  grantId: string;
  entitlement: string;
  startsAt: Date;
  expiresDate: Date;
  /** When it was ended early (DELETE), or null. */
  endedAt: Date | null;
  updatedAt: Date;
}

/** The user's verified AppTransaction as the entitlement read needs it. */
export interface AppTransactionRecord {
  environment: Environment;
  originalApplicationVersion: string | null;
  originalPurchaseDate: Date | null;
  updatedAt: Date;
}

/** When a grant stops giving access: its planned end, or its early end when sooner. */
export function grantEnd(grant: GrantRecord): Date {
  return grant.endedAt !== null && grant.endedAt.getTime() < grant.expiresDate.getTime() ? grant.endedAt : grant.expiresDate;
}

const VERSION = /^\d+(\.\d+)*$/;

/**
 * Compares dot-separated numeric versions part by part (1.10 is after 1.9; 2 equals 2.0):
 * negative when `a` is before `b`. Null when either is not such a version.
 */
export function compareVersions(a: string, b: string): number | null {
  if (!VERSION.test(a) || !VERSION.test(b)) return null;
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Whether the AppTransaction's buyer first bought a version before the rule's `beforeVersion`. */
export function qualifiesForAppPurchase(appTransaction: AppTransactionRecord, rule: AppPurchaseRule): boolean {
  const version = appTransaction.originalApplicationVersion?.trim();
  if (version === undefined || version === '') return false;
  const order = compareVersions(version, rule.beforeVersion);
  return order !== null && order < 0;
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

/** The fields a source without an App Store purchase cannot know. */
const NO_PURCHASE = {
  productId: null,
  productType: null,
  originalTransactionId: null,
  transactionId: null,
  gracePeriodExpiresDate: null,
  willRenew: null,
  autoRenewProductId: null,
  ownershipType: null,
  revocationDate: null,
  revocationReason: null,
  revocationType: null,
  revocationPercentage: null,
  periodType: null,
  offerIdentifier: null,
  price: null,
  currency: null,
  renewalPrice: null,
  renewalCurrency: null,
  renewalDate: null,
  expirationIntent: null,
  priceIncreaseStatus: null,
} as const;

/** A grant at `now`: `active` until its end, `expired` from then on. */
export function grantView(grant: GrantRecord, now: Date): EntitlementView {
  const end = grantEnd(grant);
  const active = now.getTime() < end.getTime();
  return {
    entitlement: grant.entitlement,
    active,
    status: active ? 'active' : 'expired',
    ...NO_PURCHASE,
    environment: null,
    purchaseDate: grant.startsAt.toISOString(),
    originalPurchaseDate: grant.startsAt.toISOString(),
    expiresDate: end.toISOString(),
    source: 'grant',
    updatedAt: grant.updatedAt.toISOString(),
  };
}

/** The catalog's `appPurchase` entitlement, held for life. */
export function appPurchaseView(appTransaction: AppTransactionRecord, rule: AppPurchaseRule): EntitlementView {
  return {
    entitlement: rule.entitlement,
    active: true,
    status: 'active',
    ...NO_PURCHASE,
    environment: appTransaction.environment,
    purchaseDate: iso(appTransaction.originalPurchaseDate),
    originalPurchaseDate: iso(appTransaction.originalPurchaseDate),
    expiresDate: null,
    source: 'app_purchase',
    updatedAt: appTransaction.updatedAt.toISOString(),
  };
}

/** Of several grants of one entitlement: active first, then the one ending last, then the latest given. */
function betterGrant(a: GrantRecord, b: GrantRecord, now: Date): GrantRecord {
  const activeA = grantEnd(a).getTime() > now.getTime();
  const activeB = grantEnd(b).getTime() > now.getTime();
  const order =
    Number(activeB) - Number(activeA) ||
    grantEnd(b).getTime() - grantEnd(a).getTime() ||
    b.startsAt.getTime() - a.startsAt.getTime() ||
    (b.grantId > a.grantId ? 1 : b.grantId < a.grantId ? -1 : 0);
  return order > 0 ? b : a;
}

const SOURCE_RANK: Record<EntitlementView['source'], number> = { app_store: 0, app_purchase: 1, grant: 2 };

/**
 * One entry per entitlement among the App Store's (`purchases`, already one per
 * entitlement), the grants and the app purchase (docs/entitlement-answer.md, "Sources"):
 * an entry that gives access wins over one that does not; between entries that both do
 * (or both do not), an App Store purchase first (it says the most: product, renewal,
 * prices), then the app purchase, then a grant. So a grant shows exactly when it gives
 * access that no purchase gives, and an ended grant shows only when nothing else is there.
 */
export function combineSources(
  purchases: readonly EntitlementView[],
  grants: readonly GrantRecord[],
  appTransaction: AppTransactionRecord | null,
  rule: AppPurchaseRule | null,
  now: Date,
): EntitlementView[] {
  if (grants.length === 0 && (appTransaction === null || rule === null)) return [...purchases];
  const best = new Map<string, EntitlementView>();
  const offer = (view: EntitlementView) => {
    const held = best.get(view.entitlement);
    if (held === undefined) {
      best.set(view.entitlement, view);
      return;
    }
    const order = Number(view.active) - Number(held.active) || SOURCE_RANK[held.source] - SOURCE_RANK[view.source];
    if (order > 0) best.set(view.entitlement, view);
  };
  for (const view of purchases) offer(view);
  const grantOf = new Map<string, GrantRecord>();
  for (const grant of grants) {
    const held = grantOf.get(grant.entitlement);
    grantOf.set(grant.entitlement, held === undefined ? grant : betterGrant(held, grant, now));
  }
  for (const grant of grantOf.values()) offer(grantView(grant, now));
  if (appTransaction !== null && rule !== null && qualifiesForAppPurchase(appTransaction, rule)) offer(appPurchaseView(appTransaction, rule));
  return [...best.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, view]) => view);
}
