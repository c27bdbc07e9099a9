import { type AppRegistry, createAppRegistry, indexApps } from './app-registry.js';
import { type AppServices, createAppServices, type SharedSlots } from './app-services.js';
import { createSlots } from './db/group-while-busy.js';
import { type AppDeps, appDatabasesOf } from './dependencies.js';

/**
 * Every app's use cases. The fields of the first app's are here too (tests of one app);
 * routes (http/served-apps.ts) and the CLI (--app) choose an app's with `of`.
 */
export interface Services extends AppServices {
  /** Every app of the installation. */
  apps: AppRegistry;
  /** Each app's use cases, in the configured order. */
  all: readonly AppServices[];
  /** The use cases of app `appId`; null for an id no app has. */
  of(appId: string): AppServices | null;
  /** The use cases of the app a bundle id names (the webhooks' choice); null for a bundle no app has. */
  ofBundleId(bundleId: string): AppServices | null;
  /** Starts every app's background jobs. */
  start(): Promise<void>;
  /** Stops every app's. */
  close(): Promise<void>;
}

/**
 * The composition root of the use cases, shared by buildApp (app.ts) and the CLI: routes
 * and commands receive what is built here and wire nothing themselves. One set per app, over
 * that app's database (its own schema: SPEC "Several apps"); the server, metrics registry,
 * verifier caches and rate limits stay one for all.
 */
export function createServices(appDeps: AppDeps): Services {
  const apps = appDeps.apps ?? singleAppRegistry(appDeps);
  const databases = appDatabasesOf(appDeps);
  // With APPS_FILE each event's envelope names its app; without it the body is unchanged.
  const severalApps = appDeps.config.appsFile !== null;
  // The apps' batchers and entitlement readers take turns on one set of slots: one
  // PostgreSQL serves them all, and a third of the load per app must not mean three times
  // the transactions, each a third as large (src/db/group-while-busy.ts).
  const slots: SharedSlots = { writes: createSlots(WRITE_SLOTS), reads: createSlots(READ_SLOTS) };
  const all = apps.all.map((app) => {
    const handles = databases.get(app.id);
    if (handles === undefined) throw new Error(`no database was opened for app "${app.id}"`);
    return createAppServices(appDeps, app, handles, severalApps ? app.id : null, slots);
  });
  // The registry's look-ups, over each app's use cases.
  const index = indexApps(all, (each) => each.app);
  return {
    ...index.first,
    apps,
    all,
    of: index.byId,
    ofBundleId: index.byBundleId,
    async start() {
      for (const each of all) await each.start();
    },
    async close() {
      await Promise.all(all.map((each) => each.close()));
    },
  };
}

/** Ingest batches written at the same time, over every app (each holds one pooled connection). */
const WRITE_SLOTS = 2;
/** Grouped entitlement reads in flight at the same time, over every app. */
const READ_SLOTS = 2;

/** The one app of deps built without a registry (tests with their own verifier and client). */
function singleAppRegistry(deps: AppDeps): AppRegistry {
  return createAppRegistry([deps.config.apps[0]!], () => ({ verifier: deps.verifier, appStoreApi: deps.appStoreApi, catalog: deps.entitlementMap }));
}
