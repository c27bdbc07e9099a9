import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { openDatabase, withGenericPlans } from '../../src/db/client.js';
import { createEntitlementsRepository } from '../../src/entitlements/entitlements.repository.js';
import { backendName, testDatabaseUrl } from '../helpers/database.js';
import { useTestDatabase } from '../helpers/fixtures.js';

// The entitlement read (a named prepared statement) runs on connections of its own whose
// sessions plan it generically; every other statement keeps PostgreSQL's default planning.

const t = useTestDatabase();
const READ_NAME = 'entitlements_records_of_users';

describe(`the entitlement read's planning (${backendName})`, () => {
  it('answers the entitlement read through queryArrays', async () => {
    const repository = createEntitlementsRepository({ database: t.database.handle });
    expect(await repository.recordsOfUser('nobody-at-all')).toEqual({ purchases: [], grants: [], appTransaction: null });
  });

  it.skipIf(!testDatabaseUrl)('plans it generically on PostgreSQL, on its own connections, while the main pool keeps the default planning', async () => {
    const handle = await openDatabase({ url: t.database.url, dataDir: 'memory://', genericPoolMax: 1 });
    try {
      const repository = createEntitlementsRepository({ database: handle });
      for (let i = 0; i < 8; i++) await repository.recordsOfUser(`user-${i}`);
      // One connection in that pool: this statement runs in the session that prepared the read.
      const [row] = await handle.queryArrays({
        name: 'test_prepared_plans',
        text: 'select generic_plans::int, custom_plans::int, current_setting($2) from pg_prepared_statements where name = $1',
        values: [READ_NAME, 'plan_cache_mode'],
      });
      expect(row, 'the read is prepared in that session').toBeDefined();
      const [generic, custom, mode] = row!;
      expect(mode).toBe('force_generic_plan');
      expect(generic).toBeGreaterThanOrEqual(8);
      expect(custom).toBe(0);
      const main = (await handle.db.execute(sql`select current_setting('plan_cache_mode') as mode`)) as unknown as { rows: Array<{ mode: string }> };
      expect(main.rows[0]?.mode, 'the main pool plans as PostgreSQL does by default').toBe('auto');
    } finally {
      await handle.close();
    }
  });

  it('adds the generic planning to the options a URL already carries, keeping the rest of the URL', () => {
    const url = 'postgres://app:p%40ss@db.example:5432/ase?options=-c%20statement_timeout%3D5000&sslmode=require';
    const settings = withGenericPlans(url);
    expect(settings.options).toBeUndefined();
    const parsed = new URL(settings.connectionString);
    expect(parsed.searchParams.get('options')).toBe('-c statement_timeout=5000 -c plan_cache_mode=force_generic_plan');
    expect(parsed.searchParams.get('sslmode')).toBe('require');
    expect(parsed.password).toBe('p%40ss');
    expect(withGenericPlans('postgres://app@db.example/ase')).toEqual({
      connectionString: 'postgres://app@db.example/ase',
      options: '-c plan_cache_mode=force_generic_plan',
    });
  });
});
