import { and, count, eq, gt, gte, isNull, lt, lte, ne, or, type SQL, sql } from 'drizzle-orm';
import { type Environment, PRODUCT_TYPE } from '../apple/types.js';
import type { Database, Executor } from '../db/client.js';
import { analyticsDaily, purchaseAnalytics, purchaseLinks } from '../db/schema.js';
import type { Interval } from './analytics.model.js';

// The analytics reads, by the query builder, over the two tables the write side keeps
// (src/purchases/analytics.*): `purchase_analytics`, one row per purchase, read with its
// partial index on active_until for "active now", and `analytics_daily`, the daily rollup,
// read by its primary key's leading day. Neither reads `transactions`.

const pa = purchaseAnalytics;
const daily = analyticsDaily;

export type CountColumn = 'newSubscriptions' | 'renewals' | 'expirations' | 'refunds' | 'trialConversions';

/** Active purchases with the same product, offer and status: the summary's unit of counting. */
export interface ActiveGroup {
  environment: string;
  productId: string;
  productType: string;
  offerType: number | null;
  offerDiscountType: string | null;
  /** The period has ended and a grace period runs. */
  inGrace: boolean;
  /** No end is stored (a non-consumable, or a non-renewing subscription without an expiry). */
  open: boolean;
  count: number;
}

/** A non-renewing subscription whose catalog gives it a duration (ISO 8601): it ends that long after its purchase. */
export interface CatalogDuration {
  productId: string;
  duration: string;
}

export interface RollupQuery {
  /** UTC days, YYYY-MM-DD: fromDay inclusive, toDay exclusive. */
  fromDay: string;
  toDay: string;
  interval: Interval;
  environment: Environment | undefined;
}

export interface AnalyticsRepository {
  activeGroups(now: Date, environment: Environment | undefined, durations: readonly CatalogDuration[]): Promise<ActiveGroup[]>;
  /** entitlement → linked users holding it through an active purchase, each user once. */
  entitlementHolders(
    now: Date,
    environment: Environment | undefined,
    durations: readonly CatalogDuration[],
    grants: ReadonlyArray<{ productId: string; entitlement: string }>,
  ): Promise<Map<string, number>>;
  /** bucket key (the UTC date its bucket starts on) → sum of the column over the days. */
  counts(column: CountColumn, query: RollupQuery): Promise<Map<string, number>>;
  revenue(query: RollupQuery): Promise<Array<{ bucket: string; currency: string; milliunits: number }>>;
  /** Subscriptions whose current period ended in [from, to] (an ended period stops at its expiry instant) and that are not revoked (the state rows). */
  expirationsBetween(from: Date, to: Date, environment: Environment | undefined): Promise<number>;
}

const NON_RENEWING = PRODUCT_TYPE.nonRenewing;
const AUTO_RENEWABLE = PRODUCT_TYPE.autoRenewable;

// `not revoked` as written: the predicate of the partial indexes.
const notRevoked = sql`not ${pa.revoked}`;

/**
 * Active at `now`: not revoked, and no end or an end after now; a non-renewing
 * subscription with no stored end but a catalog duration ends that long after its purchase.
 */
function activeAt(now: Date, durations: readonly CatalogDuration[]): SQL {
  const endedByCatalog =
    durations.length === 0
      ? undefined
      : sql`not (${pa.productType} = ${NON_RENEWING} and exists (select 1 from (values ${sql.join(
          durations.map((d) => sql`(${d.productId}, ${d.duration}::interval)`),
          sql`, `,
        )}) as catalog(product_id, duration) where catalog.product_id = ${pa.productId} and ${pa.purchaseDate} + catalog.duration <= ${now}))`;
  return and(notRevoked, or(gt(pa.activeUntil, now), and(isNull(pa.activeUntil), endedByCatalog)))!;
}

const environmentIs = (column: typeof pa.environment | typeof daily.environment, environment: Environment | undefined) =>
  environment === undefined ? undefined : eq(column, environment);

/** The bucket of a day: `truncated` to group by, `key` the date (YYYY-MM-DD) it starts on. */
function bucketOf(interval: Interval) {
  const truncated = sql`date_trunc(${sql.raw(`'${interval}'`)}, ${daily.day}::timestamp)`;
  return { truncated, key: sql<string>`to_char(${truncated}, 'YYYY-MM-DD')` };
}

// The summary's two statements aggregate every active purchase (132,666 rows at 1M
// transactions in the bench): with the default 4 MB of work_mem their sort and hash spill
// to disk (1.1 s together); with 64 MB, set for their transaction only, they stay in memory
// (about half that). BENCHMARKS.md, analytics.
const SUMMARY_WORK_MEM = '64MB';

export function createAnalyticsRepository({ db }: { db: Database }): AnalyticsRepository {
  const withWorkMem = <T>(work: (executor: Executor) => Promise<T>) =>
    db.transaction(async (tx) => {
      await tx.execute(sql.raw(`set local work_mem = '${SUMMARY_WORK_MEM}'`));
      return work(tx);
    });
  const inDays = (query: RollupQuery) => and(gte(daily.day, query.fromDay), lt(daily.day, query.toDay), environmentIs(daily.environment, query.environment));

  return {
    async activeGroups(now, environment, durations) {
      const inGrace = sql<boolean>`(${pa.expiresDate} is not null and ${pa.expiresDate} <= ${now})`;
      const open = sql<boolean>`(${pa.activeUntil} is null)`;
      const rows = await withWorkMem((executor) =>
        executor
          .select({
            environment: pa.environment,
            productId: pa.productId,
            productType: pa.productType,
            offerType: pa.offerType,
            offerDiscountType: pa.offerDiscountType,
            inGrace,
            open,
            count: count(),
          })
          .from(pa)
          .where(and(activeAt(now, durations), environmentIs(pa.environment, environment)))
          // By position: the status expressions carry `now` as a parameter of their own.
          .groupBy(sql`1, 2, 3, 4, 5, 6, 7`),
      );
      return rows.map((row) => ({ ...row, count: Number(row.count) }));
    },

    async entitlementHolders(now, environment, durations, grants) {
      if (grants.length === 0) return new Map();
      const catalog = sql`(values ${sql.join(
        grants.map((g) => sql`(${g.productId}, ${g.entitlement})`),
        sql`, `,
      )}) as grants(product_id, entitlement)`;
      // Each (entitlement, user) once, by hashing, then counted: cheaper than count(distinct), which sorts.
      const rows = await withWorkMem((executor) => {
        const holders = executor
          .selectDistinct({ entitlement: sql<string>`grants.entitlement`.as('entitlement'), userId: purchaseLinks.userId })
          .from(pa)
          .innerJoin(purchaseLinks, eq(purchaseLinks.originalTransactionId, pa.originalTransactionId))
          .innerJoin(catalog, sql`grants.product_id = ${pa.productId}`)
          .where(and(activeAt(now, durations), environmentIs(pa.environment, environment)))
          .as('holders');
        return executor.select({ entitlement: holders.entitlement, users: count() }).from(holders).groupBy(holders.entitlement);
      });
      return new Map(rows.map((row) => [row.entitlement, Number(row.users)]));
    },

    async counts(column, query) {
      const bucket = bucketOf(query.interval);
      const rows = await db
        .select({ bucket: bucket.key, value: sql<number>`sum(${daily[column]})::float8` })
        .from(daily)
        .where(inDays(query))
        .groupBy(bucket.truncated);
      return new Map(rows.map((row) => [row.bucket, Number(row.value)]));
    },

    async revenue(query) {
      const bucket = bucketOf(query.interval);
      const rows = await db
        .select({ bucket: bucket.key, currency: daily.currency, milliunits: sql<number>`sum(${daily.revenue})::float8` })
        .from(daily)
        .where(and(inDays(query), ne(daily.revenue, 0)))
        .groupBy(bucket.truncated, daily.currency);
      return rows.map((row) => ({ bucket: row.bucket, currency: row.currency, milliunits: Number(row.milliunits) }));
    },

    async expirationsBetween(from, to, environment) {
      const [row] = await db
        .select({ value: count() })
        .from(pa)
        .where(
          and(notRevoked, eq(pa.productType, AUTO_RENEWABLE), gte(pa.expiresDate, from), lte(pa.expiresDate, to), environmentIs(pa.environment, environment)),
        );
      return Number(row?.value ?? 0);
    },
  };
}
