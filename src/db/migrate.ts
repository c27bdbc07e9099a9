import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { migrationsFolder } from '../paths.js';
import { holdingAdvisoryLock } from './advisory-lock.js';
import type { DatabaseHandle } from './client.js';

// Replicas starting together must not run the same migration twice.
const MIGRATION_LOCK_KEY = 7_245_771_190_041_001n;

/** Applies the pending SQL migrations of `migrations/`; a second run is a no-op. */
export async function migrateDatabase(handle: DatabaseHandle, folder = migrationsFolder): Promise<void> {
  if (handle.raw.kind === 'pglite') {
    await migratePglite(drizzlePglite(handle.raw.client), { migrationsFolder: folder });
    return;
  }
  const client = await handle.raw.pool.connect();
  try {
    await holdingAdvisoryLock(client, MIGRATION_LOCK_KEY, 'wait', () => migratePg(drizzlePg(client), { migrationsFolder: folder }));
  } finally {
    client.release();
  }
}
