// Several apps (SPEC "Several apps"): each app's data in a schema of its own on PostgreSQL,
// with what PostgreSQL shares across schemas (advisory locks, NOTIFY channels) named per app.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appNamespace, PUBLIC_NAMESPACE, schemaOfApp } from '../../src/db/app-schema.js';
import { type DatabaseHandle, openDatabase } from '../../src/db/client.js';
import { inSchema, migrateDatabase } from '../../src/db/migrate.js';
import { appDatabaseLocation } from '../../src/dependencies.js';
import { createEmptyDatabase, testDatabaseUrl } from '../helpers/database.js';
import { queryRows } from '../helpers/rows.js';

describe('the schema of an app', () => {
  it('is public for the app `default`, and app_<id> in lower case with "." and "-" as "_" for any other', () => {
    expect(schemaOfApp('default')).toBe('public');
    expect(schemaOfApp('kids')).toBe('app_kids');
    expect(schemaOfApp('Photo.Pro-2')).toBe('app_photo_pro_2');
    expect(schemaOfApp('Default')).toBe('app_default');
  });

  it('fits PostgreSQL identifiers for the longest ids, and keeps two long ids apart', () => {
    const long = 'a'.repeat(63);
    expect(schemaOfApp(`${long}1`).length).toBeLessThanOrEqual(63);
    expect(schemaOfApp(`${long}1`)).not.toBe(schemaOfApp(`${long}2`));
    expect(schemaOfApp(`${long}1`)).toBe(schemaOfApp(`${long}1`));
  });

  it("keeps today's lock keys and channels for public, and gives every other schema its own", () => {
    expect(PUBLIC_NAMESPACE.lockKey(42n)).toBe(42n);
    expect(PUBLIC_NAMESPACE.channel('ase_events')).toBe('ase_events');
    const kids = appNamespace('app_kids');
    const photo = appNamespace('app_photo');
    expect(kids.lockKey(42n)).not.toBe(42n);
    expect(kids.lockKey(42n)).not.toBe(photo.lockKey(42n));
    expect(kids.lockKey(42n)).not.toBe(kids.lockKey(43n));
    expect(kids.lockKey(42n) >= -(2n ** 63n) && kids.lockKey(42n) < 2n ** 63n).toBe(true);
    expect(kids.channel('ase_events')).not.toBe(photo.channel('ase_events'));
    expect(kids.channel('ase_answer_inputs').length).toBeLessThanOrEqual(63);
  });

  it('has migrations name its schema where drizzle-kit wrote "public"', () => {
    expect(inSchema('REFERENCES "public"."users"("user_id")', 'app_kids')).toBe('REFERENCES "app_kids"."users"("user_id")');
  });
});

describe.skipIf(!testDatabaseUrl)('apps in schemas of one PostgreSQL database', () => {
  let empty: Awaited<ReturnType<typeof createEmptyDatabase>>;
  let main: DatabaseHandle;
  let kids: DatabaseHandle;
  let kidsAgain: DatabaseHandle;

  beforeAll(async () => {
    empty = await createEmptyDatabase();
    main = await openDatabase({ url: empty.url, dataDir: 'memory://' });
    kids = await openDatabase({ url: empty.url, dataDir: 'memory://', schema: 'app_kids' });
    kidsAgain = await openDatabase({ url: empty.url, dataDir: 'memory://', schema: 'app_kids' });
    await migrateDatabase(kids);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([main?.close(), kids?.close(), kidsAgain?.close()]);
    await empty?.drop();
  });

  const tablesOf = async (schema: string) =>
    (await queryRows<{ name: string }>(main.db, sql`select table_name as name from information_schema.tables where table_schema = ${schema} order by 1`)).map(
      (row) => row.name,
    );

  it("creates the app's schema with every table, its own migrations table, and foreign keys within it", async () => {
    expect(await tablesOf('app_kids')).toEqual(expect.arrayContaining(['users', 'purchase_links', 'events', 'event_deliveries', '__drizzle_migrations']));
    expect(await tablesOf('public')).toEqual([]);
    const foreign = await queryRows<{ referenced: string }>(
      main.db,
      sql`select distinct n.nspname as referenced from pg_constraint c join pg_class t on t.oid = c.confrelid join pg_namespace n on n.oid = t.relnamespace
          join pg_class own on own.oid = c.conrelid join pg_namespace ownns on ownns.oid = own.relnamespace
          where c.contype = 'f' and ownns.nspname = 'app_kids'`,
    );
    expect(foreign.map((row) => row.referenced)).toEqual(['app_kids']);
  });

  it('migrates each schema on its own: a second run changes nothing, public migrates apart', async () => {
    const applied = async () => (await queryRows<{ n: number }>(main.db, sql`select count(*)::int as n from app_kids.__drizzle_migrations`))[0]!.n;
    const before = await applied();
    await migrateDatabase(kids);
    expect(await applied()).toBe(before);
    await migrateDatabase(main);
    expect(await tablesOf('public')).toEqual(expect.arrayContaining(['users', 'events']));
    expect(await applied()).toBe(before);
  });

  it("reads and writes the app's own tables through its handle", async () => {
    await kids.db.execute(sql`insert into users (user_id, app_account_token, created_at) values ('kid', gen_random_uuid(), now())`);
    const inKids = await queryRows<{ n: number }>(kids.db, sql`select count(*)::int as n from users`);
    const inMain = await queryRows<{ n: number }>(main.db, sql`select count(*)::int as n from users`);
    expect([inKids[0]!.n, inMain[0]!.n]).toEqual([1, 0]);
  });

  it("holds one app's job lock without blocking another app's, and still keeps two holders of one app's apart", async () => {
    const key = 7_245_771_190_049_999n;
    const outcome = await kids.withTryAdvisoryLock(key, async () => ({
      main: await main.withTryAdvisoryLock(key, async () => 'ran'),
      kidsAgain: await kidsAgain.withTryAdvisoryLock(key, async () => 'ran'),
    }));
    expect(outcome).toEqual({ acquired: true, result: { main: { acquired: true, result: 'ran' }, kidsAgain: { acquired: false } } });
  });
});

describe('apps in embedded PGlite databases of one DATA_DIR', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ase-apps-data-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps app `default` in DATA_DIR itself and every other app in DATA_DIR/apps/<id>, each a database of its own', async () => {
    expect(appDatabaseLocation({ dataDir: dir }, 'default')).toEqual({ schema: 'public', dataDir: dir });
    expect(appDatabaseLocation({ dataDir: dir }, 'kids')).toEqual({ schema: 'app_kids', dataDir: path.join(dir, 'apps', 'kids') });
    expect(appDatabaseLocation({ dataDir: 'memory://' }, 'kids').dataDir).toBe('memory://');

    const main = await openDatabase({ url: null, dataDir: appDatabaseLocation({ dataDir: dir }, 'default').dataDir });
    const kids = await openDatabase({ url: null, dataDir: appDatabaseLocation({ dataDir: dir }, 'kids').dataDir });
    try {
      await Promise.all([migrateDatabase(main), migrateDatabase(kids)]);
      await kids.db.execute(sql`insert into users (user_id, app_account_token, created_at) values ('kid', gen_random_uuid(), now())`);
      const count = async (handle: DatabaseHandle) => (await queryRows<{ n: number }>(handle.db, sql`select count(*)::int as n from users`))[0]!.n;
      expect([await count(main), await count(kids)]).toEqual([0, 1]);
    } finally {
      await Promise.all([main.close(), kids.close()]);
    }
    expect(existsSync(path.join(dir, 'apps', 'kids'))).toBe(true);
  }, 120_000);
});
