import type { Logger } from 'pino';
import { apiNotConfigured, appStoreApiError } from '../app-store-errors.js';
import { AppStoreApiError } from '../apple/api/index.js';
import { type Environment, PRODUCT_TYPE } from '../apple/types.js';
import type { Clock } from '../clock.js';
import { UnavailableError } from '../errors.js';
import type { PurchaseToRefresh, RefreshResult } from '../purchases/app-store-sync.usecase.js';
import { answerChangeInstants, type Validity, validityAt } from './answer-validity.js';
import type { EntitlementMap } from './entitlement-map.js';
import {
  type EntitlementView,
  type EvaluatedPurchase,
  entitlementViews,
  evaluatePurchases,
  periodEndedUnheard,
  type RefreshCandidate,
  refreshCandidateOf,
} from './entitlements.model.js';
import type { EntitlementsRepository, UserRecords } from './entitlements.repository.js';
import { warnOncePerProduct } from './product-warnings.js';
import type { RecordsCache } from './records-cache.js';
import { combineSources } from './sources.model.js';
import { lacksDuration } from './state.model.js';

export interface EntitlementsAnswer {
  entitlements: EntitlementView[];
  /** True when a refresh from the App Store was wanted but did not succeed in time. */
  stale: boolean;
}

/**
 * `required` is `always` for an operator who asked for Apple's answer and wants to know when
 * there is none: no credentials, Apple away or refusing, or no answer in time throw instead
 * of answering stored data as stale.
 */
export type RefreshMode = 'required' | 'always' | 'when-stale' | 'never';

export interface EntitlementsOptions {
  refresh?: RefreshMode;
  /** Only purchases of this environment count (and only they are refreshed); both without it. */
  environment?: Environment;
}

/**
 * What the cache keeps of a user (deps.cache): the answer computed from the user's records
 * at one instant, for one environment filter and catalog, with the interval around that
 * instant in which it stays the answer of now (answer-validity.ts); not the records.
 */
export interface KeptAnswer {
  purchases: RefreshCandidate[];
  views: EntitlementView[];
  map: EntitlementMap;
  environment: Environment | undefined;
  validity: Validity;
  /** How often it was handed out: from the second time on, frozen (and the route keeps its JSON). */
  handedOut: number;
}

export interface EntitlementsUsecaseDeps {
  repository: EntitlementsRepository;
  /**
   * Where answers of `repository`'s reads are kept between reads (records-cache.ts); a kept
   * answer serves while it holds (the same filter and catalog, the clock inside its
   * validity), else the user is read again. Absent: every answer is read and computed.
   */
  cache?: RecordsCache<KeptAnswer>;
  /**
   * Where reads that must see the latest writes go: `?refresh=true` and the re-read after an
   * automatic refresh (its writes are on the primary; a replica may not have them yet).
   * Default: `repository`.
   */
  primaryRepository?: EntitlementsRepository;
  entitlementMap: EntitlementMap;
  clock: Clock;
  logger: Logger;
  /** null without App Store Server API credentials. */
  refresh: ((purchases: readonly PurchaseToRefresh[]) => Promise<RefreshResult>) | null;
  /** How long a request waits for a refresh it did not ask for. Default 1.5 s. */
  autoRefreshTimeoutMs?: number;
  /** How long `?refresh=true` waits. Default 5 s. */
  explicitRefreshTimeoutMs?: number;
  /** A user is refreshed automatically at most this often. Default 60 s. */
  autoRefreshIntervalMs?: number;
}

export interface EntitlementsUsecase {
  /**
   * `always`: ask the App Store first (`?refresh=true`); `required`: the same, but a refresh
   * that cannot happen or fails throws (POST /admin/users/:userId/refresh); `when-stale`
   * (default): only when a subscription period ended without news, briefly; `never`: stored
   * data only.
   */
  entitlementsOf(userId: string, options?: EntitlementsOptions): Promise<EntitlementsAnswer>;
  /** Waits for refreshes that outlived their request (they still apply what they learn). */
  drain(): Promise<void>;
}

const AUTO_RENEWABLE = PRODUCT_TYPE.autoRenewable;
const MAX_TRACKED_USERS = 10_000;

/** Apple did not answer within the request's budget; the refresh goes on and may apply later. */
class RefreshTimeout extends UnavailableError {
  constructor(message: string) {
    super('REFRESH_TIMEOUT', message);
  }
}

/** Apple's failures as on every route that asks Apple (503 when transient, 502 when it refuses); others as they are. */
function refreshFailure(error: unknown): unknown {
  return error instanceof AppStoreApiError ? appStoreApiError(error) : error;
}

export function createEntitlementsUsecase(deps: EntitlementsUsecaseDeps): EntitlementsUsecase {
  const autoTimeout = deps.autoRefreshTimeoutMs ?? 1_500;
  const explicitTimeout = deps.explicitRefreshTimeoutMs ?? 5_000;
  const autoInterval = deps.autoRefreshIntervalMs ?? 60_000;
  const pending = new Set<Promise<unknown>>();
  // userId → last automatic attempt, so an account Apple has nothing new about (or an
  // unreachable App Store) does not cost every request a round trip.
  const lastAuto = new Map<string, { at: number; failed: boolean }>();

  const warnNoDuration = warnOncePerProduct(
    deps.logger,
    'a non-renewing subscription has no duration in ENTITLEMENTS_FILE (products.<id>.duration): it stays active until revoked',
  );

  // Every purchase is read, and the other environment's dropped after evaluation: one
  // originalTransactionId never spans environments, and the read stays the one shared,
  // grouped statement whatever the filter.
  interface Evaluated {
    /** What the refresh decisions need of each purchase counted. */
    purchases: RefreshCandidate[];
    /** The answer's entries (viewsOf). */
    views: EntitlementView[];
  }

  const primary = deps.primaryRepository ?? deps.repository;
  const cache = deps.cache;

  async function evaluate(userId: string, environment: Environment | undefined, repository = deps.repository): Promise<Evaluated> {
    const now = deps.clock();
    if (cache === undefined || repository !== deps.repository) return answerOf(await repository.recordsOfUser(userId), environment, now);
    const kept = await cache.read(
      userId,
      async () => {
        // The records are let go once the answer and its validity are computed from them.
        const records = await repository.recordsOfUser(userId);
        const map = deps.entitlementMap;
        const validity = validityAt(
          answerChangeInstants(records, (id) => map.durationOf(id)),
          now.getTime(),
        );
        return { ...answerOf(records, environment, now), map, environment, validity, handedOut: 0 };
      },
      (entry) => holdsAt(entry, environment, now.getTime()),
    );
    kept.handedOut += 1;
    if (kept.handedOut === 2) {
      // Handed to every caller from now on: none may change it for the next.
      for (const view of kept.views) Object.freeze(view);
      Object.freeze(kept.views);
    }
    return kept;
  }

  /** The kept answer is the answer of `at` for this filter and catalog. */
  function holdsAt(kept: KeptAnswer, environment: Environment | undefined, at: number): boolean {
    return kept.map === deps.entitlementMap && kept.environment === environment && kept.validity.from <= at && at < kept.validity.until;
  }

  function answerOf(records: UserRecords, environment: Environment | undefined, now: Date): Evaluated {
    const map = deps.entitlementMap;
    const all = evaluatePurchases(records.purchases, now, (id) => map.durationOf(id));
    for (const { state } of all) if (lacksDuration(state)) warnNoDuration(state.productId);
    const purchases = environment === undefined ? all : all.filter(({ state }) => state.environment === environment);
    return { purchases: purchases.map(refreshCandidateOf), views: viewsOf(purchases, records, now, environment) };
  }

  /**
   * The answer: the purchases' entries combined with the grants and the app purchase
   * (sources.model.ts). Grants belong to no environment and count under either filter; an
   * AppTransaction counts under its own environment only, like a purchase.
   */
  function viewsOf(purchases: EvaluatedPurchase[], records: UserRecords, now: Date, environment: Environment | undefined): EntitlementView[] {
    const app = records.appTransaction;
    const appTransaction = app !== null && (environment === undefined || app.environment === environment) ? app : null;
    return combineSources(entitlementViews(purchases, deps.entitlementMap), records.grants, appTransaction, deps.entitlementMap.appPurchase, now);
  }

  /** Resolves null when the refresh finished in time, else why not (logged); never rejects. */
  async function refreshWithin(userId: string, purchases: PurchaseToRefresh[], timeoutMs: number): Promise<unknown> {
    const run = deps.refresh!(purchases);
    const tracked = run.catch(() => undefined).finally(() => pending.delete(tracked));
    pending.add(tracked);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RefreshTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([run, timeout]);
      return null;
    } catch (error) {
      deps.logger.warn({ err: error, userId }, 'entitlement refresh from the App Store failed; answering from stored data');
      return error ?? new Error('the refresh failed');
    } finally {
      clearTimeout(timer);
    }
  }

  function toRefresh(purchases: readonly RefreshCandidate[]): PurchaseToRefresh[] {
    return purchases.map(({ originalTransactionId, environment }) => ({ originalTransactionId, environment }));
  }

  function noteAuto(key: string, failed: boolean): void {
    if (lastAuto.size >= MAX_TRACKED_USERS) {
      const cutoff = deps.clock().getTime() - autoInterval;
      for (const [id, entry] of lastAuto) if (entry.at < cutoff) lastAuto.delete(id);
      if (lastAuto.size >= MAX_TRACKED_USERS) lastAuto.clear();
    }
    lastAuto.set(key, { at: deps.clock().getTime(), failed });
  }

  return {
    async entitlementsOf(userId, options = {}) {
      const environment = options.environment;
      const mode = options.refresh ?? 'when-stale';
      if (mode === 'required' && deps.refresh === null) throw apiNotConfigured();
      const explicit = mode === 'always' || mode === 'required';
      // `?refresh=true` is about the latest state: every read of it goes to the primary.
      let evaluated = await evaluate(userId, environment, explicit && deps.refresh !== null ? primary : deps.repository);
      let stale = false;
      if (deps.refresh !== null && mode !== 'never') {
        if (explicit) {
          const subscriptions = evaluated.purchases.filter((purchase) => purchase.productType === AUTO_RENEWABLE);
          if (subscriptions.length > 0) {
            const failure = await refreshWithin(userId, toRefresh(subscriptions), explicitTimeout);
            if (failure !== null && mode === 'required') throw refreshFailure(failure);
            if (failure === null) evaluated = await evaluate(userId, environment, primary);
            stale = failure !== null;
          }
        } else {
          const now = deps.clock();
          const unheard = evaluated.purchases.filter((purchase) => periodEndedUnheard(purchase, now));
          if (unheard.length > 0) {
            // An attempt for one environment's purchases says nothing about the other's.
            const autoKey = environment === undefined ? userId : `${userId}\u0000${environment}`;
            const last = lastAuto.get(autoKey);
            if (last !== undefined && now.getTime() - last.at < autoInterval) {
              stale = last.failed;
            } else {
              const ok = (await refreshWithin(userId, toRefresh(unheard), autoTimeout)) === null;
              noteAuto(autoKey, !ok);
              if (ok) evaluated = await evaluate(userId, environment, primary);
              stale = !ok;
            }
          }
        }
      }
      return { entitlements: evaluated.views, stale };
    },
    async drain() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}
