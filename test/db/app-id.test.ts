// Issue 19, step 1: every row of per-app data names its app (`app_id`), and every row
// stored before (or written by code that names no app) belongs to the single app `default`.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTableColumns, getTableName, is, sql } from 'drizzle-orm';
import { type PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_APP_ID } from '../../src/app-id.js';
import { parseConfig } from '../../src/config.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import * as schema from '../../src/db/schema.js';
import { migrationsFolder } from '../../src/paths.js';
import { authHeader } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { useTestApp, useTestDatabase } from '../helpers/fixtures.js';
import { queryRows } from '../helpers/rows.js';

/** The tables of per-app data; service_state holds installation-wide facts. */
const PER_APP_TABLES = [
  'analytics_daily',
  'app_account_token_updates',
  'app_transactions',
  'consumption_facts',
  'consumption_requests',
  'event_deliveries',
  'events',
  'grants',
  'notifications',
  'purchase_analytics',
  'purchase_link_events',
  'purchase_links',
  'renewal_extensions',
  'subscriptions',
  'transactions',
  'user_answers',
  'users',
];

const schemaTables: PgTable[] = Object.values(schema).filter((value) => is(value, PgTable));

describe('the schema', () => {
  it('gives every table but service_state an app_id that is not null and defaults to the single app', () => {
    const names = schemaTables.map((table) => getTableName(table)).sort();
    expect(names).toEqual([...PER_APP_TABLES, 'service_state'].sort());
    for (const table of schemaTables) {
      const appId = (getTableColumns(table) as Record<string, PgColumn | undefined>).appId;
      if (getTableName(table) === 'service_state') {
        expect(appId).toBeUndefined();
        continue;
      }
      expect(appId?.name, getTableName(table)).toBe('app_id');
      expect(appId?.notNull, getTableName(table)).toBe(true);
      expect(appId?.default, getTableName(table)).toBe(DEFAULT_APP_ID);
    }
  });

  it('names the APPLE_* app with the id the column defaults to', () => {
    const config = parseConfig({ APPLE_BUNDLE_ID: 'com.example.app', API_KEYS: 'k1-0123456789abcdef', APPLE_ENVIRONMENTS: 'Sandbox' });
    expect(config.apps.map((app) => app.id)).toEqual([DEFAULT_APP_ID]);
    expect(DEFAULT_APP_ID).toBe('default');
  });
});

describe(`migration 0011_app_id on ${backendName}`, () => {
  const empty = useTestDatabase({ migrate: false });
  const before = mkdtempSync(join(tmpdir(), 'migrations-before-0011-'));
  afterAll(() => rmSync(before, { recursive: true, force: true }));

  /** The migrations folder as it was before 0011: what an installation upgrading from it has applied. */
  const folderBefore0011 = () => {
    cpSync(migrationsFolder, before, { recursive: true });
    const journalPath = join(before, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    const index = journal.entries.findIndex((entry) => entry.tag === '0011_app_id');
    expect(index).toBeGreaterThan(0);
    journal.entries = journal.entries.slice(0, index);
    writeFileSync(journalPath, JSON.stringify(journal));
    return before;
  };

  it('gives the rows stored before it to the single app, and every table of per-app data the column', async () => {
    const db = empty.database.handle.db;
    await migrateDatabase(empty.database.handle, folderBefore0011());
    const columnsBefore = await queryRows<{ table_name: string }>(
      db,
      sql`select table_name from information_schema.columns where table_schema = 'public' and column_name = 'app_id'`,
    );
    expect(columnsBefore).toEqual([]);

    await db.execute(sql`insert into users (user_id, app_account_token) values ('u-old', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')`);
    await db.execute(sql`insert into purchase_links (original_transaction_id, user_id, link_source) values ('otx-old', 'u-old', 'transaction')`);
    await db.execute(
      sql`insert into notifications (id, version, notification_type, payload, source, outcome) values ('n-old', 'v2', 'TEST', 'jws', 'webhook', 'recorded')`,
    );

    await migrateDatabase(empty.database.handle);

    const columns = await queryRows<{ table_name: string; is_nullable: string; column_default: string | null }>(
      db,
      sql`select table_name, is_nullable, column_default from information_schema.columns
          where table_schema = 'public' and column_name = 'app_id' order by table_name`,
    );
    expect(columns.map((column) => column.table_name)).toEqual(PER_APP_TABLES);
    for (const column of columns) {
      expect(column.is_nullable, column.table_name).toBe('NO');
      expect(column.column_default, column.table_name).toMatch(/^'default'(::text)?$/);
    }

    const apps = await queryRows<{ app_id: string }>(
      db,
      sql`select app_id from users union all select app_id from purchase_links union all select app_id from notifications`,
    );
    expect(apps).toEqual([{ app_id: 'default' }, { app_id: 'default' }, { app_id: 'default' }]);
  });
});

describe(`rows written by a single-app service (${backendName})`, () => {
  const t = useTestApp();

  it('belong to the app `default`', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/users/u-app-id/app-account-token', headers: authHeader() });
    expect(response.statusCode).toBe(200);
    const rows = await queryRows<{ app_id: string }>(t.database.handle.db, sql`select app_id from users where user_id = 'u-app-id'`);
    expect(rows).toEqual([{ app_id: DEFAULT_APP_ID }]);
  });
});
