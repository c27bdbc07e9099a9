import { ConfigError } from './config.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { environmentWithDotEnv, loadConfig } from './load-config.js';
import { createLogger } from './logger.js';
import { createSignedDataVerifier, DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from './apple/verifier/index.js';
import { ReplayAbortedError, replayNotifications } from './notifications/replay.usecase.js';

// Operator commands: `npm run cli -- <command>`.
const USAGE = `Usage: npm run cli -- <command>

Commands:
  migrate    apply pending SQL migrations to DATABASE_URL (or the embedded database under DATA_DIR)
  replay [--reset]
             rebuild transactions and subscription state from the stored raw V2 notifications,
             verified again offline (certificates at each payload's signedDate); safe on a live
             database. --reset deletes those rows first, all in one transaction, and rolls back
             if any stored notification no longer verifies; prints the counts as JSON
`;

async function migrate(env: Record<string, string | undefined>): Promise<void> {
  // Migrating needs only the database settings, not the whole service configuration.
  const databaseUrl = env.DATABASE_URL?.trim() || null;
  const dataDir = env.DATA_DIR?.trim() || './data';
  const database = await openDatabase({ url: databaseUrl, dataDir });
  try {
    await migrateDatabase(database);
    process.stdout.write(`Migrations applied to ${database.kind === 'postgres' ? 'PostgreSQL' : `embedded database in ${dataDir}`}\n`);
  } finally {
    await database.close();
  }
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

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
  else process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

