import { parseArgs } from 'node:util';
import pino from 'pino';
import type { AppDeps } from './app.js';
import type { ApiEnvironment } from './apple/api/index.js';
import { systemClock } from './clock.js';
import { ConfigError } from './config.js';
import { createDependencies } from './dependencies.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import { environmentWithDotEnv, loadConfig, readSecretFiles } from './load-config.js';
import { createLogger } from './logger.js';
import { apiNotConfigured } from './http/app-store-errors.js';
import { recoveryDepsFrom } from './admin/recovery-deps.js';
import { recoverNotifications, validateRecoveryWindow } from './admin/recovery.usecase.js';
import { getTestNotificationStatus, requestTestNotification, type TestNotificationDeps } from './admin/test-notification.usecase.js';
import { entitlementsFromDeps } from './entitlements/app-backend.js';
import { createSignedDataVerifier, DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from './apple/verifier/index.js';
import { ReplayAbortedError, replayNotifications } from './notifications/replay.usecase.js';

// Operator commands: `npm run cli -- <command>`. Results go to stdout as JSON, logs to stderr.
const USAGE = `Usage: npm run cli -- <command> [options]

Commands:
  migrate
      apply pending SQL migrations to DATABASE_URL (or the embedded database under DATA_DIR)
  recover --start <ISO 8601> --end <ISO 8601> [--only-failures]
      fetch Apple's notification history for the window (at most 180 days back) in each
      accepted environment and apply every notification not yet recorded; prints
      {"fetched", "applied", "duplicate", "rejected"}
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

Settings come from the environment and .env, as for the service. With the embedded
database (no DATABASE_URL), stop the service first: one process at a time may open DATA_DIR.
`;

class UsageError extends Error {}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function migrate(env: Record<string, string | undefined>): Promise<void> {
  // Migrating needs only the database settings, not the whole service configuration.
  const databaseUrl = readSecretFiles(env).DATABASE_URL?.trim() || null;
  const dataDir = env.DATA_DIR?.trim() || './data';
  const database = await openDatabase({ url: databaseUrl, dataDir });
  try {
    await migrateDatabase(database);
    process.stdout.write(`Migrations applied to ${database.kind === 'postgres' ? 'PostgreSQL' : `embedded database in ${dataDir}`}\n`);
  } finally {
    await database.close();
  }
}

/** The service's dependencies, logging to stderr so stdout carries only the result. */
async function withDependencies(env: Record<string, string | undefined>, fn: (deps: AppDeps) => Promise<void>): Promise<void> {
  const { config, entitlementMap } = loadConfig(env);
  const logger = createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }));
  const deps = await createDependencies(config, entitlementMap, logger);
  try {
    await fn(deps);
  } finally {
    await deps.database.close();
  }
}

function environmentOption(raw: string | undefined): ApiEnvironment | undefined {
  if (raw === undefined) return undefined;
  if (raw !== 'Production' && raw !== 'Sandbox') throw new UsageError(`--environment must be Production or Sandbox, got "${raw}"`);
  return raw;
}

function testNotificationDeps(deps: AppDeps): TestNotificationDeps {
  if (deps.appStoreApi === null) throw apiNotConfigured();
  return { api: deps.appStoreApi, environments: deps.config.apple.environments, verifier: deps.verifier };
}

async function recover(env: Record<string, string | undefined>, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { start: { type: 'string' }, end: { type: 'string' }, 'only-failures': { type: 'boolean', default: false } },
  });
  if (!values.start || !values.end) throw new UsageError('recover needs --start and --end');
  const input = { startDate: values.start, endDate: values.end, onlyFailures: values['only-failures'] };
  // Checked before the database is opened, so a mistyped window fails at once.
  const window = validateRecoveryWindow(input, systemClock());
  await withDependencies(env, async (deps) => {
    const recovery = recoveryDepsFrom(deps);
    if (recovery === null) throw apiNotConfigured();
    try {
      const result = await recoverNotifications(recovery, window);
      deps.events.recoveryRun({ trigger: 'cli', outcome: 'success', fetched: result.fetched, applied: result.applied });
      print(result);
    } catch (error) {
      deps.events.recoveryRun({ trigger: 'cli', outcome: 'failure', fetched: 0, applied: 0 });
      throw error;
    }
  });
}

async function testNotification(env: Record<string, string | undefined>, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { environment: { type: 'string' }, wait: { type: 'string' } } });
  const waitSeconds = values.wait === undefined ? 0 : Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new UsageError(`--wait must be a number of seconds, got "${values.wait}"`);
  await withDependencies(env, async (deps) => {
    const testDeps = testNotificationDeps(deps);
    const requested = await requestTestNotification(testDeps, environmentOption(values.environment));
    print(requested);
    const deadline = Date.now() + waitSeconds * 1_000;
    while (Date.now() < deadline) {
      await sleep(Math.min(3_000, Math.max(0, deadline - Date.now())));
      const status = await getTestNotificationStatus(testDeps, requested.testNotificationToken, requested.environment).catch(
        // Apple may not know the token for a moment after issuing it.
        (error: unknown) => ((error as { code?: unknown }).code === 'TEST_NOTIFICATION_NOT_FOUND' ? null : Promise.reject(error)),
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

async function testNotificationStatus(env: Record<string, string | undefined>, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { environment: { type: 'string' } } });
  const [token] = positionals;
  if (!token) throw new UsageError('test-notification-status needs the token');
  await withDependencies(env, async (deps) => {
    print(await getTestNotificationStatus(testNotificationDeps(deps), token, environmentOption(values.environment)));
  });
}

async function entitlements(env: Record<string, string | undefined>, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { refresh: { type: 'boolean', default: false } } });
  const [userId] = positionals;
  if (!userId) throw new UsageError('entitlements needs the user id');
  await withDependencies(env, async (deps) => {
    if (values.refresh && deps.appStoreApi === null) throw apiNotConfigured();
    const usecase = entitlementsFromDeps(deps);
    const answer = await usecase.entitlementsOf(userId, { refresh: values.refresh ? 'always' : 'never' });
    await usecase.drain();
    print({ userId, ...answer });
  });
}

async function replay(env: Record<string, string | undefined>, args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { reset: { type: 'boolean', default: false } } });
  const { config } = loadConfig(env);
  const logger = createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }));
  // Offline, validity at each payload's signedDate: a stored payload may have outlived
  // its leaf certificate, and a replay must not depend on OCSP (see replay.usecase.ts).
  const verifier = createSignedDataVerifier({
    rootCertificates: loadRootCertificates(config.apple.rootCertPaths ?? [DEFAULT_ROOT_CERTIFICATE_PATH]),
    bundleId: config.apple.bundleId,
    ...(config.apple.appAppleId !== null ? { appAppleId: config.apple.appAppleId } : {}),
    environments: config.apple.environments,
    onlineChecks: false,
  });
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    print(await replayNotifications({ db: database.db, verifier, logger }, { reset: values.reset }));
  } catch (error) {
    if (error instanceof ReplayAbortedError) print(error.result);
    throw error;
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<void> {
  const env = environmentWithDotEnv(process.env);
  const [command, ...args] = argv;
  switch (command) {
    case 'migrate':
      return migrate(env);
    case 'replay':
      return replay(env, args);
    case 'recover':
      return recover(env, args);
    case 'test-notification':
      return testNotification(env, args);
    case 'test-notification-status':
      return testNotificationStatus(env, args);
    case 'entitlements':
      return entitlements(env, args);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`Unknown command "${command}"\n\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`Configuration error: ${error.message}\n`);
  else if (error instanceof UsageError || (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  } else {
    const code = (error as { code?: unknown }).code;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${typeof code === 'string' ? `${code}: ` : ''}${message}\n`);
  }
  process.exit(1);
});
