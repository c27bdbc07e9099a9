import pino from 'pino';
import { validateRecoveryWindow } from './admin/recovery.usecase.js';
import { DEFAULT_APP_ID } from './app-id.js';
import type { AppServices } from './app-services.js';
import { apiNotConfigured } from './app-store-errors.js';
import { createSignedDataVerifier, DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from './apple/verifier/index.js';
import { AppChoiceError, type CliCommand, chooseApp, parseCliArguments, UsageError } from './cli-args.js';
import { systemClock } from './clock.js';
import { ConfigError } from './config.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import { type AppDeps, appDatabaseLocation, closeAppDatabases, createDependencies, databasesOf } from './dependencies.js';
import { CodedError } from './errors.js';
import { startEventsListener } from './events/events-listener.js';
import { tailEvents } from './events/tail.js';
import { environmentWithDotEnv, type LoadedConfig, loadConfig, readSecretFiles } from './load-config.js';
import { createLogger } from './logger.js';
import { ReplayAbortedError, replayNotifications } from './notifications/replay.usecase.js';
import { createServices, type Services } from './services.js';
import { canonicalUserId } from './users/app-account-token.model.js';

// Operator commands: `npm run cli -- <command>`. Results go to stdout as JSON, logs to stderr.
const USAGE = `Usage: npm run cli -- <command> [options] [--app <id>]

With APPS_FILE, every command but migrate acts for the app --app names (an id of APPS_FILE);
with several apps it is required (recover excepted), with one it may be left out.

Commands:
  migrate
      apply pending SQL migrations to DATABASE_URL (or the embedded database under DATA_DIR);
      with APPS_FILE, to every app's schema (or embedded database)
  recover --start <ISO 8601> --end <ISO 8601> [--only-failures]
      fetch Apple's notification history for the window (at most 180 days back) in each
      accepted environment and apply every notification not yet recorded; prints
      {"fetched", "applied", "duplicate", "rejected"}. With several apps and no --app, for
      every app with API credentials, one after the other: prints {"<id>": counts, or
      {"error": {"code", "message"}}, or {"skipped": "API_NOT_CONFIGURED"}} and exits 1 if
      any app failed
  test-notification [--environment Production|Sandbox] [--wait <seconds>]
      ask Apple to send a TEST notification; prints its token, and with --wait polls
      Apple until a delivery attempt is reported or the time is up
  test-notification-status <token> [--environment Production|Sandbox]
      print Apple's delivery attempts for a test notification
  replay [--reset]
      rebuild transactions and subscription state from the stored raw V2 notifications,
      verified again offline (certificates at each payload's signedDate); safe on a live
      database. --reset deletes those rows first, all in one transaction, and rolls back
      if any stored notification no longer verifies; prints the counts
  entitlements <userId> [--refresh]
      print a user's entitlements as GET /entitlements/:userId answers them
      (--refresh: ask the App Store Server API first)
  restore <userId> <transactionId>
      link every purchase of the Apple Account that made the transaction to the user
      (Get Transaction History, all pages; TRANSFER_POLICY and the token rule apply) and
      print the user's entitlements as POST /users/:userId/restore answers them
  events redeliver <eventId>
      deliver an event again to every EVENTS_WEBHOOK_URLS (same webhook-id, a fresh
      3-day retry window); the running service sends it. Prints {"eventId", "deliveries"}
  events tail [--after <cursor>] [--from-start]
      follow the event feed (GET /events): one JSON line per event as it is recorded,
      from now on (default), after a cursor, or from the oldest kept event; Ctrl-C
      stops it and prints the cursor to resume from on stderr. Needs DATABASE_URL
      (the embedded database belongs to the running service)

Settings come from the environment and .env, as for the service. With the embedded
database (no DATABASE_URL), stop the service first: one process at a time may open DATA_DIR.

Exit status: 0 done; 1 failed (configuration, database, Apple; the reason on stderr);
2 wrong arguments (checked before any setting is read), or --app missing with several apps
(APP_REQUIRED) or naming no app (UNKNOWN_APP).
`;

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function migrate(env: Record<string, string | undefined>): Promise<void> {
  // Migrating needs only the database settings, and with APPS_FILE the apps' ids (each app's schema or data directory).
  const databaseUrl = readSecretFiles(env).DATABASE_URL?.trim() || null;
  const dataDir = env.DATA_DIR?.trim() || './data';
  const appIds = env.APPS_FILE?.trim() ? loadConfig(env).config.apps.map((app) => app.id) : [DEFAULT_APP_ID];
  for (const appId of appIds) {
    const location = appDatabaseLocation({ dataDir }, appId);
    const database = await openDatabase({ url: databaseUrl, dataDir: location.dataDir, schema: location.schema });
    try {
      await migrateDatabase(database);
      const where =
        database.kind === 'postgres'
          ? `PostgreSQL${location.schema === 'public' ? '' : ` schema ${location.schema}`}`
          : `embedded database in ${location.dataDir}`;
      process.stdout.write(`Migrations applied to ${where}${appIds.length > 1 ? ` (app ${appId})` : ''}\n`);
    } finally {
      await database.close();
    }
  }
}

/**
 * The use cases of `appIds` (createServices, as the app builds them), logging to stderr so
 * stdout carries only the result. Only those apps' databases are opened: the configuration
 * is narrowed to them (APPS_FILE stays set, so events still name their app).
 */
async function withAppsServices(
  { config, catalogs }: LoadedConfig,
  appIds: readonly string[],
  fn: (services: Services, deps: AppDeps) => Promise<void>,
): Promise<void> {
  const chosen = { ...config, apps: config.apps.filter((app) => appIds.includes(app.id)) };
  const logger = createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }));
  const deps = await createDependencies(chosen, catalogs.get(chosen.apps[0]!.id)!, logger, undefined, undefined, undefined, catalogs);
  try {
    const services = createServices(deps);
    try {
      await fn(services, deps);
    } finally {
      await services.close();
    }
  } finally {
    // The CLI's reads go to the primary (the replica's lag is never checked here); the pool never connected.
    await closeAppDatabases(databasesOf(deps));
  }
}

/** The use cases of the app --app names (or the only app), and its database handle. */
async function withServices(loaded: LoadedConfig, requested: string | undefined, fn: (services: AppServices, deps: AppDeps) => Promise<void>): Promise<void> {
  const appId = chooseApp(
    requested,
    loaded.config.apps.map((app) => app.id),
  );
  await withAppsServices(loaded, [appId], (services, deps) => fn(services.of(appId)!, deps));
}

async function recover(env: Record<string, string | undefined>, command: Extract<CliCommand, { name: 'recover' }>): Promise<void> {
  const input = { startDate: command.start, endDate: command.end, onlyFailures: command.onlyFailures };
  // Checked before the database is opened, so a mistyped window fails at once.
  const window = validateRecoveryWindow(input, systemClock());
  const loaded = loadConfig(env);
  const apps = loaded.config.apps;
  if (command.app !== undefined || apps.length === 1) {
    await withServices(loaded, command.app, async ({ recovery }) => {
      if (recovery === null) throw apiNotConfigured();
      print(await recovery.recover(window, { trigger: 'cli' }));
    });
    return;
  }
  // Several apps and no --app: a window of missed notifications (the webhook URL down, a
  // replica broken) is missed by every app, and recovering is idempotent, so the command
  // does what the periodic job does: every app with credentials, one failing not stopping the rest.
  const withCredentials = apps.filter((app) => app.credentials !== null).map((app) => app.id);
  if (withCredentials.length === 0) throw apiNotConfigured();
  const results = new Map<string, unknown>(apps.map((app) => [app.id, { skipped: 'API_NOT_CONFIGURED' }]));
  const failed: string[] = [];
  await withAppsServices(loaded, withCredentials, async (services) => {
    for (const { app, recovery } of services.all) {
      try {
        results.set(app.id, await recovery!.recover(window, { trigger: 'cli' }));
      } catch (error) {
        failed.push(app.id);
        const code = (error as { code?: unknown }).code;
        results.set(app.id, { error: { code: typeof code === 'string' ? code : 'ERROR', message: (error as Error).message } });
      }
    }
  });
  print(Object.fromEntries(results));
  if (failed.length > 0) throw new Error(`recovery failed for app${failed.length > 1 ? 's' : ''} ${failed.join(', ')} (the reason above)`);
}

async function testNotification(
  env: Record<string, string | undefined>,
  { environment, waitSeconds, app }: Extract<CliCommand, { name: 'test-notification' }>,
): Promise<void> {
  await withServices(loadConfig(env), app, async ({ testNotifications }) => {
    const requested = await testNotifications.request(environment);
    print(requested);
    const deadline = Date.now() + waitSeconds * 1_000;
    while (Date.now() < deadline) {
      await sleep(Math.min(3_000, Math.max(0, deadline - Date.now())));
      const status = await testNotifications.status(requested.testNotificationToken, requested.environment).catch(
        // Apple may not know the token for a moment after issuing it.
        (error: unknown) => (error instanceof CodedError && error.code === 'TEST_NOTIFICATION_NOT_FOUND' ? null : Promise.reject(error)),
      );
      if (status && status.sendAttempts.length > 0) {
        const { signedPayload: _payload, ...shown } = status;
        print(shown);
        return;
      }
    }
    if (waitSeconds > 0) process.stderr.write(`No delivery attempt reported within ${waitSeconds} s\n`);
  });
}

async function testNotificationStatus(
  env: Record<string, string | undefined>,
  { token, environment, app }: Extract<CliCommand, { name: 'test-notification-status' }>,
): Promise<void> {
  await withServices(loadConfig(env), app, async ({ testNotifications }) => {
    print(await testNotifications.status(token, environment));
  });
}

async function entitlements(env: Record<string, string | undefined>, { userId, refresh, app }: Extract<CliCommand, { name: 'entitlements' }>): Promise<void> {
  await withServices(loadConfig(env), app, async ({ entitlements, app }) => {
    if (refresh && app.appStoreApi === null) throw apiNotConfigured();
    const answer = await entitlements.entitlementsOf(userId, { refresh: refresh ? 'always' : 'never' });
    await entitlements.drain();
    print({ userId, ...answer });
  });
}

async function restore(env: Record<string, string | undefined>, { userId, transactionId, app }: Extract<CliCommand, { name: 'restore' }>): Promise<void> {
  await withServices(loadConfig(env), app, async ({ users }) => {
    const canonical = canonicalUserId(userId);
    const { entitlements } = await users.restore(canonical, { transactionId });
    print({ userId: canonical, entitlements });
  });
}

async function redeliverEvent(env: Record<string, string | undefined>, { eventId, app }: Extract<CliCommand, { name: 'events-redeliver' }>): Promise<void> {
  await withServices(loadConfig(env), app, async ({ deliveries }) => {
    print(await deliveries.redeliver(eventId));
  });
}

async function eventsTail(env: Record<string, string | undefined>, { after, fromStart, app }: Extract<CliCommand, { name: 'events-tail' }>): Promise<void> {
  await withServices(loadConfig(env), app, async ({ feed, feedSignal, app }, deps) => {
    // The chosen app's database: its channel is its schema's (db/app-schema.ts).
    const database = deps.appDatabases?.get(app.id)?.database ?? deps.database;
    const listener = await startEventsListener({ database, signal: feedSignal, logger: deps.logger });
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const cursor = await tailEvents({
        feed,
        from: after !== undefined ? { after } : fromStart ? 'start' : 'end',
        write: (line) => process.stdout.write(`${line}\n`),
        signal: stop.signal,
      });
      process.stderr.write(`Resume with: events tail --after ${cursor}\n`);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await listener.stop();
    }
  });
}

async function replay(env: Record<string, string | undefined>, { reset, app: requested }: Extract<CliCommand, { name: 'replay' }>): Promise<void> {
  const { config } = loadConfig(env);
  const appId = chooseApp(
    requested,
    config.apps.map((app) => app.id),
  );
  const app = config.apps.find((each) => each.id === appId)!;
  const logger = createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }));
  // Offline, validity at each payload's signedDate: a stored payload may have outlived
  // its leaf certificate, and a replay must not depend on OCSP (see replay.usecase.ts).
  const verifier = createSignedDataVerifier({
    rootCertificates: loadRootCertificates(config.apple.rootCertPaths ?? [DEFAULT_ROOT_CERTIFICATE_PATH]),
    bundleId: app.bundleId,
    ...(app.appAppleId !== null ? { appAppleId: app.appAppleId } : {}),
    environments: app.environments,
    onlineChecks: false,
  });
  const location = appDatabaseLocation(config, appId);
  const database = await openDatabase({ url: config.databaseUrl, dataDir: location.dataDir, schema: location.schema });
  try {
    print(await replayNotifications({ db: database.db, verifier, logger }, { reset }));
  } catch (error) {
    if (error instanceof ReplayAbortedError) print(error.result);
    throw error;
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<void> {
  // Arguments first: a usage mistake must not wait for (or be hidden by) the settings.
  const command = parseCliArguments(argv);
  if (command.name === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const env = environmentWithDotEnv(process.env);
  switch (command.name) {
    case 'migrate':
      return migrate(env);
    case 'replay':
      return replay(env, command);
    case 'recover':
      return recover(env, command);
    case 'test-notification':
      return testNotification(env, command);
    case 'test-notification-status':
      return testNotificationStatus(env, command);
    case 'entitlements':
      return entitlements(env, command);
    case 'restore':
      return restore(env, command);
    case 'events-redeliver':
      return redeliverEvent(env, command);
    case 'events-tail':
      return eventsTail(env, command);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`Configuration error: ${error.message}\n`);
  else if (error instanceof AppChoiceError) {
    // The arguments were well formed: the one line says which app ids there are.
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  } else if (error instanceof UsageError) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  } else {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
  }
  process.exit(1);
});
