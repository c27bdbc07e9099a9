import type { AppStoreServerApi } from './apple/api/index.js';
import type { SignedDataVerifier } from './apple/types.js';
import type { AppConfig, OfferSigningKey } from './config.js';
import type { EntitlementMap } from './entitlements/entitlement-map.js';

/**
 * One app of the installation with everything that is its own (SPEC "Several apps"): who
 * its signed payloads must name, how to call the App Store for it, its offer key, V1 shared
 * secret, catalog and API keys. Built once, in the composition root.
 */
export interface App {
  id: string;
  bundleId: string;
  config: AppConfig;
  /** Checks that every payload names this app; shares its chain and OCSP caches with the other apps'. */
  verifier: SignedDataVerifier;
  /** null without App Store Server API credentials for this app. */
  appStoreApi: AppStoreServerApi | null;
  /** Signs this app's offers; null when the app has neither an offer key nor API credentials. */
  offerKey: OfferSigningKey | null;
  /** The V1 notifications' `password`; null: this app takes no V1 notification. */
  sharedSecret: string | null;
  catalog: EntitlementMap;
  /** Bearer tokens that act for this app only. */
  apiKeys: readonly string[];
}

/**
 * The installation's apps, or what is built per app (each app's use cases: services.ts), by
 * the look-ups every caller needs: one code for the registry, the use cases and the routes.
 */
export interface AppIndex<T> {
  /** In the configured order; never empty. */
  readonly all: readonly T[];
  /** The first app's: the one an installation without APPS_FILE has, and the one code not yet per app serves. */
  readonly first: T;
  byId(id: string): T | null;
  /** The app a signed payload's `bundleId` (or a V1 notification's `bid`) names; null for a bundle no app has. */
  byBundleId(bundleId: string): T | null;
}

export type AppRegistry = AppIndex<App>;

/** Indexes `members` (never empty) by the id and bundle id of the app each belongs to. */
export function indexApps<T>(members: readonly T[], appOf: (member: T) => Pick<App, 'id' | 'bundleId'>): AppIndex<T> {
  if (members.length === 0) throw new Error('an installation has at least one app');
  const byId = new Map(members.map((member) => [appOf(member).id, member]));
  const byBundle = new Map(members.map((member) => [appOf(member).bundleId, member]));
  return {
    all: members,
    first: members[0]!,
    byId: (id) => byId.get(id) ?? null,
    byBundleId: (bundleId) => byBundle.get(bundleId) ?? null,
  };
}

export interface AppParts {
  verifier: SignedDataVerifier;
  appStoreApi: AppStoreServerApi | null;
  catalog: EntitlementMap;
}

/** `partsOf` builds what each app needs from its configuration (dependencies.ts: one verifier family, one API client per app). */
export function createAppRegistry(apps: readonly AppConfig[], partsOf: (app: AppConfig) => AppParts): AppRegistry {
  const all = apps.map((config): App => {
    const parts = partsOf(config);
    return {
      id: config.id,
      bundleId: config.bundleId,
      config,
      verifier: parts.verifier,
      appStoreApi: parts.appStoreApi,
      offerKey: config.offerKey,
      sharedSecret: config.sharedSecret,
      catalog: parts.catalog,
      apiKeys: config.apiKeys,
    };
  });
  return indexApps(all, (app) => app);
}
