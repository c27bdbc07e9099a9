import { ConfigError } from './config.js';
import { openDatabase } from './db/client.js';
import { migrateDatabase } from './db/migrate.js';
import { environmentWithDotEnv } from './load-config.js';

// Operator commands: `npm run cli -- <command>`.
const USAGE = `Usage: npm run cli -- <command>

Commands:
  migrate    apply pending SQL migrations to DATABASE_URL (or the embedded database under DATA_DIR)
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

async function main(argv: string[]): Promise<void> {
  const env = environmentWithDotEnv(process.env);
  const [command] = argv;
  switch (command) {
    case 'migrate':
      return migrate(env);
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

