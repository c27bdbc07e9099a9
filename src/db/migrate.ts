import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDialect, PgSession } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrationsFolder } from '../paths.js';
import { holdingAdvisoryLock } from './advisory-lock.js';
import { PUBLIC_SCHEMA, quoteIdentifier } from './app-schema.js';
import type { DatabaseHandle } from './client.js';

// Replicas starting together must not run the same migration twice (per app: the handle's namespace).
const MIGRATION_LOCK_KEY = 7_245_771_190_041_001n;

/** Where an app's schema records its applied migrations: beside its tables (public keeps drizzle's default, `drizzle.__drizzle_migrations`). */
export const APP_MIGRATIONS_TABLE = '__drizzle_migrations';

/**
 * Applies the pending SQL migrations of `migrations/`; a second run is a no-op. On
 * PostgreSQL the handle's schema is created when missing and migrated on its own (each app
 * keeps its migrations table in its schema).
 */
export async function migrateDatabase(handle: DatabaseHandle, folder = migrationsFolder): Promise<void> {
  if (handle.raw.kind === 'pglite') {
    await migratePglite(drizzlePglite(handle.raw.client), { migrationsFolder: folder });
    return;
  }
  const schema = handle.names.schema;
  const client = await handle.raw.pool.connect();
  try {
    await holdingAdvisoryLock(client, handle.names.lockKey(MIGRATION_LOCK_KEY), 'wait', async () => {
      // Today's installations: exactly as before (their applied migrations are in drizzle.__drizzle_migrations).
      if (schema === PUBLIC_SCHEMA) return migratePg(drizzlePg(client), { migrationsFolder: folder });
      await client.query(`create schema if not exists ${quoteIdentifier(schema)}`);
      // The session's search_path is the schema (client.ts): unqualified names land in it.
      // drizzle-kit qualified a few foreign keys with "public": those name the app's schema here.
      const migrations = readMigrationFiles({ migrationsFolder: folder }).map((migration) => ({
        ...migration,
        sql: migration.sql.map((statement) => inSchema(statement, schema)),
      }));
      const db = drizzlePg(client) as unknown as { dialect: PgDialect; session: PgSession };
      await db.dialect.migrate(migrations, db.session, { migrationsFolder: folder, migrationsSchema: schema, migrationsTable: APP_MIGRATIONS_TABLE });
    });
  } finally {
    client.release();
  }
}

/** A migration statement with its `"public".` qualifiers naming `schema` instead. */
export function inSchema(statement: string, schema: string): string {
  return statement.replaceAll('"public".', `${quoteIdentifier(schema)}.`);
}
