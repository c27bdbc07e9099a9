import type { Logger } from 'pino';
import { apiNotConfigured, appStoreApiError } from '../app-store-errors.js';
import { AppStoreApiError } from '../apple/api/index.js';
import { type Environment, PRODUCT_TYPE } from '../apple/types.js';
import type { Clock } from '../clock.js';
import { UnavailableError } from '../errors.js';
import type { PurchaseToRefresh, RefreshResult } from '../purchases/app-store-sync.usecase.js';
import { answerChangeInstants, type Validity, validityAt } from './answer-validity.js';
import type { EntitlementMap } from './entitlement-map.js';
import { type EntitlementView, type EvaluatedPurchase, entitlementViews, evaluatePurchases, periodEndedUnheard } from './entitlements.model.js';
import type { EntitlementsRepository, UserRecords } from './entitlements.repository.js';
import { createObjectMemo } from './object-memo.js';
import { warnOncePerProduct } from './product-warnings.js';
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

export interface EntitlementsUsecaseDeps {
  repository: EntitlementsRepository;
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
    purchases: EvaluatedPurchase[];
    /** The answer's entries (viewsOf). */
    views: EntitlementView[];
  }

  /**
   * An answer kept with the records it was computed from (answers): records the cache
   * (records-cache.ts) hands out again give the same answer until the clock reaches the
   * next instant at which it may change (answer-validity.ts), so a cache hit computes
   * nothing. The records are never changed in place (a change is a new read, a new object),
   * so an answer lives exactly as long as the cache keeps its records.
   */
  interface KeptAnswer extends Evaluated {
    map: EntitlementMap;
    /** The clock's instant it was computed at. */
    at: number;
    /** Computed when the answer is first asked for again (one use: never needed). */
    validity: Validity | null;
  }
  type KeptAnswers = { [K in Environment | 'all']?: KeptAnswer };
  // On the records themselves, not in a WeakMap: an answer for records nobody keeps (no
  // cache, a user the cache lets go) dies young with them (object-memo.ts).
  const answers = createObjectMemo<UserRecords, KeptAnswers>('keptAnswers');

  const primary = deps.primaryRepository ?? deps.repository;

  async function evaluate(userId: string, environment: Environment | undefined, repository = deps.repository): Promise<Evaluated> {
    const now = deps.clock();
    const records = await repository.recordsOfUser(userId);
    return answerOf(records, environment, now);
  }

  function answerOf(records: UserRecords, environment: Environment | undefined, now: Date): Evaluated {
    const map = deps.entitlementMap;
    const at = now.getTime();
    const key = environment ?? 'all';
    let kept = answers.get(records);
    const held = kept?.[key];
    if (held !== undefined && held.map === map) {
      if (held.validity === null) {
        held.validity = validityAt(
          answerChangeInstants(records, (id) => map.durationOf(id)),
          held.at,
        );
        // Handed to every caller from now on: none may change it for the next.
        for (const view of held.views) Object.freeze(view);
        Object.freeze(held.views);
      }
      if (held.validity.from <= at && at < held.validity.until) return held;
    }
    const all = evaluatePurchases(records.purchases, now, (id) => map.durationOf(id));
    for (const { state } of all) if (lacksDuration(state)) warnNoDuration(state.productId);
    const purchases = environment === undefined ? all : all.filter(({ state }) => state.environment === environment);
    const answer: KeptAnswer = { purchases, views: viewsOf(purchases, records, now, environment), map, at, validity: null };
    if (kept === undefined) {
      kept = {};
      answers.set(records, kept);
    }
    kept[key] = answer;
    return answer;
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

  function toRefresh(evaluated: readonly EvaluatedPurchase[]): PurchaseToRefresh[] {
    return evaluated.map(({ state }) => ({ originalTransactionId: state.originalTransactionId, environment: state.environment }));
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
          const subscriptions = evaluated.purchases.filter(({ state }) => state.productType === AUTO_RENEWABLE);
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
