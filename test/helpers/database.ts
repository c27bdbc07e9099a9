import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, type DatabaseHandle, openDatabase } from '../../src/db/client.js';
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

/** Runs `work` on a connection of its own to `url`, closed afterwards whatever happens. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the server of `serverUrl`. */
export function databaseUrl(serverUrl: string, name: string): string {
  const parsed = new URL(serverUrl);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export interface ServerDatabase {
  url: string;
  name: string;
  /** Drops it, closing whatever connections are left. */
  drop(): Promise<void>;
}

/** Creates an empty database of a unique name (`<prefix>_<time>_<random>`) on the server of `serverUrl`. */
export async function createServerDatabase(serverUrl: string, prefix: string): Promise<ServerDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withClient(serverUrl, (admin) => admin.query(`create database ${name}`));
  return {
    url: databaseUrl(serverUrl, name),
    name,
    async drop() {
      await withClient(serverUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`));
    },
  };
}

/** Creates an empty database of this test's own on the server (or a fresh in-memory PGlite). */
export async function createEmptyDatabase(): Promise<{ url: string | null; drop(): Promise<void> }> {
  if (!testDatabaseUrl) return { url: null, drop: async () => {} };
  return createServerDatabase(testDatabaseUrl, 'ase_test');
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

/**
 * Until `count` statements on `db`'s database wait for a lock (a row lock, an advisory lock),
 * or until `unless` settles first: the work that would have waited and did not, so a test
 * that races the two never polls on after its work is done. PostgreSQL only: PGlite's
 * transactions never overlap.
 */
export async function untilWaitingForLocks(db: Database, options: { count?: number; unless?: Promise<unknown> } = {}): Promise<void> {
  const count = options.count ?? 1;
  let settled = false;
  options.unless?.then(
    () => (settled = true),
    () => (settled = true),
  );
  while (!settled) {
    const [row] = await db.driver.query<{ waiting: number }>(
      "select count(*)::int as waiting from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
    );
    if (row!.waiting >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
