import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';

export interface TestDatabase {
  handle: DatabaseHandle;
  /** The URL of this test's own PostgreSQL database, or null on embedded PGlite. */
  url: string | null;
  /** Closes the handle and drops the database. */
  destroy(): Promise<void>;
}

export const testDatabaseUrl = process.env.TEST_DATABASE_URL?.trim() || null;
export const backendName = testDatabaseUrl ? 'PostgreSQL' : 'embedded PGlite';

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates an empty database of this test's own on the server (or a fresh in-memory PGlite). */
export async function createEmptyDatabase(): Promise<{ url: string | null; drop(): Promise<void> }> {
  if (!testDatabaseUrl) return { url: null, drop: async () => {} };
  const name = `ase_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: testDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(testDatabaseUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: testDatabaseUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A migrated database that belongs to the calling test file alone. */
export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const empty = await createEmptyDatabase();
  const handle = await openDatabase({ url: empty.url, dataDir: 'memory://' });
  if (options.migrate !== false) await migrateDatabase(handle);
  return {
    handle,
    url: empty.url,
    async destroy() {
      await handle.close();
      await empty.drop();
    },
  };
}
