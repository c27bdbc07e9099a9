import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate.js';
import { backendName } from '../helpers/database.js';
import { useTestDatabase } from '../helpers/fixtures.js';
import { queryRows } from '../helpers/rows.js';

describe(`migrations on ${backendName}`, () => {
  const empty = useTestDatabase({ migrate: false });

  const tableNames = async () => {
    const rows = await queryRows<{ table_name: string }>(
      empty.database.handle.db,
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    return rows.map((row) => row.table_name);
  };

  it('creates every table of the schema on an empty database', async () => {
    expect(await tableNames()).toEqual([]);
    await migrateDatabase(empty.database.handle);
    expect(await tableNames()).toEqual(
      expect.arrayContaining(['notifications', 'transactions', 'subscriptions', 'users', 'purchase_links', 'purchase_link_events', 'service_state']),
    );
  });

  it('does nothing on a second run', async () => {
    const count = async () => {
      const rows = await queryRows<{ n: number }>(empty.database.handle.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      return rows[0]!.n;
    };
    const before = await count();
    expect(before).toBeGreaterThan(0);
    await migrateDatabase(empty.database.handle);
    expect(await count()).toBe(before);
  });

  it('stores event_deliveries as a queue: room on each page for new versions, and autovacuum after 2% of its rows', async () => {
    await migrateDatabase(empty.database.handle);
    const [table] = await queryRows<{ reloptions: string[] }>(
      empty.database.handle.db,
      sql`select reloptions from pg_class where relname = 'event_deliveries'`,
    );
    expect(table!.reloptions).toEqual(
      expect.arrayContaining([
        'fillfactor=80',
        'autovacuum_vacuum_scale_factor=0.02',
        'autovacuum_vacuum_threshold=1000',
        'autovacuum_vacuum_insert_scale_factor=0.02',
      ]),
    );
  });
});
