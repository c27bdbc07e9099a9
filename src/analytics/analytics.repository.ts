import { and, eq, gt, gte, inArray, isNotNull, isNull, lt, ne, or, type SQL, type SQLWrapper, sql } from 'drizzle-orm';
import { type AnyPgColumn, alias, union } from 'drizzle-orm/pg-core';
import { type Environment, PRODUCT_TYPE, type ProductType } from '../apple/types.js';
import type { Database } from '../db/client.js';
import { purchaseLinks, subscriptions, transactions } from '../db/schema.js';
import type { PeriodRecord, RenewalSignals } from '../entitlements/state.model.js';
import type { StoredStatus } from '../purchases/purchase-update.js';
import type { Interval, Metric } from './analytics.model.js';

// The analytics reads, all by the query builder (docs/architecture.md, "Database access"):
// aggregates the database computes over the indexes of migration `analytics_indexes`
// (docs/analytics.md says which query uses which), and for the summary the records of the
// purchases that may be active now, evaluated by the entitlement read's own state model.

const AUTO_RENEWABLE = PRODUCT_TYPE.autoRenewable;
const CONSUMABLE = PRODUCT_TYPE.consumable;
/** Apple's offerType for an introductory offer; with FREE_TRIAL it is a trial (period-type.model.ts). */
const INTRODUCTORY = 1;
/** A revocation that is no refund: a family member lost access shared with them. */
const FAMILY_REVOKE = 'FAMILY_REVOKE';
/** The longest a paid period is looked for after a trial ends: Apple retries billing for 60 days. */
const CONVERSION_LOOKBACK = '61 days';

export interface PurchaseForSummary {
  originalTransactionId: string;
  userId: string | null;
  transactions: Array<PeriodRecord & { offerType: number | null; offerDiscountType: string | null }>;
  renewal: RenewalSignals | undefined;
  status: StoredStatus | undefined;
}

export interface TimeseriesQuery {
  metric: Exclude<Metric, 'revenue'>;
  from: Date;
  to: Date;
  interval: Interval;
  environment: Environment | undefined;
  now: Date;
}

export interface AnalyticsRepository {
  /**
   * Every purchase that may grant something at `now`, with all its records: one of its
   * (non-consumable) transactions has no end or ends after `now`, or its grace period runs
   * past `now`. Nothing else can be `active` or `grace_period` under the state model.
   */
  purchasesMaybeActive(now: Date): Promise<PurchaseForSummary[]>;
  /** bucket key (UTC date the bucket starts on) → count. */
  counts(query: TimeseriesQuery): Promise<Map<string, number>>;
  /** Gross milliunits per bucket key and currency. */
  revenue(query: Omit<TimeseriesQuery, 'metric'>): Promise<Array<{ bucket: string; currency: string; milliunits: number }>>;
}

/**
 * The bucket holding `column`: `truncated` to group by (weeks are ISO weeks, from Monday) and
 * its `key`, the UTC date (YYYY-MM-DD) it starts on, formatted once per group, not per row.
 */
function bucketOf(column: SQLWrapper, interval: Interval): { truncated: SQL; key: SQL<string> } {
  const truncated = sql`date_trunc(${sql.raw(`'${interval}'`)}, ${column} at time zone 'UTC')`;
  return { truncated, key: sql<string>`to_char(${truncated}, 'YYYY-MM-DD')` };
}

const environmentIs = (environment: Environment | undefined, column: AnyPgColumn = transactions.environment) =>
  environment === undefined ? undefined : eq(column, environment);

// Literals, not parameters: the planner matches them to the partial index of trials.
const isFreeTrial = (t: { offerType: AnyPgColumn; offerDiscountType: AnyPgColumn }) =>
  sql`${t.offerType} = ${sql.raw(String(INTRODUCTORY))} and ${t.offerDiscountType} = 'FREE_TRIAL'`;

/** First transaction of its subscription (Apple repeats the original's id and date on it). */
const isFirst = or(eq(transactions.transactionId, transactions.originalTransactionId), eq(transactions.purchaseDate, transactions.originalPurchaseDate));

export function createAnalyticsRepository({ db }: { db: Database }): AnalyticsRepository {
  function maybeActiveIds(now: Date) {
    return union(
      db
        .select({ id: transactions.originalTransactionId })
        .from(transactions)
        .where(and(ne(transactions.productType, CONSUMABLE), or(isNull(transactions.expiresDate), gt(transactions.expiresDate, now)))),
      db.select({ id: subscriptions.originalTransactionId }).from(subscriptions).where(gt(subscriptions.gracePeriodExpiresDate, now)),
    );
  }

  async function purchasesMaybeActive(now: Date): Promise<PurchaseForSummary[]> {
    const [rows, renewals, links] = await Promise.all([
      db
        .select({
          transactionId: transactions.transactionId,
          originalTransactionId: transactions.originalTransactionId,
          productId: transactions.productId,
          productType: transactions.productType,
          environment: transactions.environment,
          purchaseDate: transactions.purchaseDate,
          originalPurchaseDate: transactions.originalPurchaseDate,
          expiresDate: transactions.expiresDate,
          ownershipType: transactions.ownershipType,
          revocationDate: transactions.revocationDate,
          isUpgraded: transactions.isUpgraded,
          appAccountToken: transactions.appAccountToken,
          signedDate: transactions.signedDate,
          offerType: transactions.offerType,
          offerDiscountType: transactions.offerDiscountType,
        })
        .from(transactions)
        .where(and(ne(transactions.productType, CONSUMABLE), inArray(transactions.originalTransactionId, maybeActiveIds(now)))),
      db
        .select({
          originalTransactionId: subscriptions.originalTransactionId,
          productId: subscriptions.productId,
          autoRenewProductId: subscriptions.autoRenewProductId,
          autoRenewStatus: subscriptions.autoRenewStatus,
          isInBillingRetryPeriod: subscriptions.isInBillingRetryPeriod,
          gracePeriodExpiresDate: subscriptions.gracePeriodExpiresDate,
          renewalSignedDate: subscriptions.renewalSignedDate,
          appleStatus: subscriptions.appleStatus,
          statusSignedDate: subscriptions.statusSignedDate,
        })
        .from(subscriptions)
        .where(inArray(subscriptions.originalTransactionId, maybeActiveIds(now))),
      db
        .select({ originalTransactionId: purchaseLinks.originalTransactionId, userId: purchaseLinks.userId })
        .from(purchaseLinks)
        .where(inArray(purchaseLinks.originalTransactionId, maybeActiveIds(now))),
    ]);
    const purchases = new Map<string, PurchaseForSummary>();
    for (const row of rows) {
      const t = {
        ...row,
        productType: row.productType as ProductType,
        environment: row.environment as Environment,
        ownershipType: row.ownershipType as PeriodRecord['ownershipType'],
      };
      const purchase = purchases.get(row.originalTransactionId);
      if (purchase === undefined) {
        purchases.set(row.originalTransactionId, {
          originalTransactionId: row.originalTransactionId,
          userId: null,
          transactions: [t],
          renewal: undefined,
          status: undefined,
        });
      } else purchase.transactions.push(t);
    }
    for (const row of renewals) {
      const purchase = purchases.get(row.originalTransactionId);
      if (purchase === undefined) continue;
      // As the entitlement read: renewal info is there once a signed one arrived (with its product id).
      if (row.productId !== null && row.renewalSignedDate !== null) {
        purchase.renewal = {
          autoRenewProductId: row.autoRenewProductId,
          autoRenewStatus: row.autoRenewStatus,
          isInBillingRetryPeriod: row.isInBillingRetryPeriod,
          gracePeriodExpiresDate: row.gracePeriodExpiresDate,
          signedDate: row.renewalSignedDate,
        };
      }
      if (row.statusSignedDate !== null) {
        purchase.status = { originalTransactionId: row.originalTransactionId, appleStatus: row.appleStatus, statusSignedDate: row.statusSignedDate };
      }
    }
    for (const link of links) {
      const purchase = purchases.get(link.originalTransactionId);
      if (purchase !== undefined) purchase.userId = link.userId;
    }
    return [...purchases.values()];
  }

  /** The event's instant and the conditions of each counted metric. */
  function metricQuery(query: TimeseriesQuery) {
    const { from, to, environment, now } = query;
    const subscription = eq(transactions.productType, AUTO_RENEWABLE);
    const inWindow = (column: AnyPgColumn) => and(gte(column, from), lt(column, to));
    switch (query.metric) {
      case 'new_subscriptions':
        return { at: transactions.purchaseDate, where: and(subscription, inWindow(transactions.purchaseDate), environmentIs(environment), isFirst) };
      case 'renewals':
        return {
          at: transactions.purchaseDate,
          where: and(subscription, inWindow(transactions.purchaseDate), environmentIs(environment), sql`not coalesce(${isFirst}, false)`),
        };
      case 'refunds':
        return {
          at: transactions.revocationDate,
          where: and(
            inWindow(transactions.revocationDate),
            environmentIs(environment),
            or(isNull(transactions.revocationType), ne(transactions.revocationType, FAMILY_REVOKE)),
          ),
        };
      case 'expirations': {
        const later = alias(transactions, 'later');
        return {
          at: transactions.expiresDate,
          where: and(
            subscription,
            inWindow(transactions.expiresDate),
            lt(transactions.expiresDate, now),
            environmentIs(environment),
            isNull(transactions.revocationDate),
            eq(transactions.isUpgraded, false),
            sql`not exists (${db
              .select({ one: sql`1` })
              .from(later)
              .where(and(eq(later.originalTransactionId, transactions.originalTransactionId), gt(later.purchaseDate, transactions.purchaseDate)))})`,
          ),
        };
      }
      case 'trial_conversions':
        return null;
    }
  }

  async function trialConversions(query: TimeseriesQuery): Promise<Map<string, number>> {
    // From the trials (a partial index holds only them) to the transaction that directly
    // follows each; it converted when that one is paid and purchased inside the window.
    const trial = alias(transactions, 'trial');
    const next = db
      .select({ purchaseDate: transactions.purchaseDate, offerType: transactions.offerType, offerDiscountType: transactions.offerDiscountType })
      .from(transactions)
      .where(and(eq(transactions.originalTransactionId, trial.originalTransactionId), gt(transactions.purchaseDate, trial.purchaseDate)))
      .orderBy(transactions.purchaseDate)
      .limit(1)
      .as('next');
    const bucket = bucketOf(sql`${next.purchaseDate}`, query.interval);
    const rows = await db
      .select({ bucket: bucket.key, value: sql<number>`count(*)::int` })
      .from(trial)
      .innerJoinLateral(next, sql`true`)
      .where(
        and(
          eq(trial.productType, AUTO_RENEWABLE),
          isFreeTrial(trial),
          environmentIs(query.environment, trial.environment),
          isNotNull(trial.expiresDate),
          gte(trial.expiresDate, sql`${query.from}::timestamptz - ${sql.raw(`interval '${CONVERSION_LOOKBACK}'`)}`),
          lt(trial.purchaseDate, query.to),
          gte(next.purchaseDate, query.from),
          lt(next.purchaseDate, query.to),
          sql`not coalesce(${next.offerType} = ${INTRODUCTORY} and ${next.offerDiscountType} = 'FREE_TRIAL', false)`,
        ),
      )
      .groupBy(bucket.truncated);
    return new Map(rows.map((row) => [row.bucket, Number(row.value)]));
  }

  return {
    purchasesMaybeActive,

    async counts(query) {
      const shape = metricQuery(query);
      if (shape === null) return trialConversions(query);
      const bucket = bucketOf(shape.at, query.interval);
      const rows = await db.select({ bucket: bucket.key, value: sql<number>`count(*)::int` }).from(transactions).where(shape.where).groupBy(bucket.truncated);
      return new Map(rows.map((row) => [row.bucket, Number(row.value)]));
    },

    async revenue({ from, to, interval, environment }) {
      const bucket = bucketOf(transactions.purchaseDate, interval);
      const rows = await db
        .select({ bucket: bucket.key, currency: sql<string>`${transactions.currency}`, milliunits: sql<number>`sum(${transactions.price})::float8` })
        .from(transactions)
        .where(
          and(
            gte(transactions.purchaseDate, from),
            lt(transactions.purchaseDate, to),
            environmentIs(environment),
            isNotNull(transactions.price),
            isNotNull(transactions.currency),
          ),
        )
        .groupBy(bucket.truncated, transactions.currency);
      return rows.map((row) => ({ bucket: row.bucket, currency: row.currency, milliunits: Number(row.milliunits) }));
    },
  };
}
