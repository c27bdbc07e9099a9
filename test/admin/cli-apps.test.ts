import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { count } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.js';
import { notifications } from '../../src/db/schema.js';
import { appDatabaseLocation } from '../../src/dependencies.js';
import { recordedEvents } from '../events/support.js';
import { TEST_APP_APPLE_ID } from '../helpers/app.js';
import { GLOBAL_API_KEY, THREE_APPS } from '../helpers/apps.js';
import { createEmptyDatabase } from '../helpers/database.js';
import { useAppStoreApiDouble, useTestPki } from '../helpers/fixtures.js';
import { signNotification } from '../helpers/pki.js';
import { runEntry } from '../helpers/process.js';
import { HISTORY_PATH, historyPage, hoursAgo } from './fixture.js';

const [MAIN, KIDS, PHOTO] = THREE_APPS.map((spec, index) => ({ ...spec, appAppleId: TEST_APP_APPLE_ID + index })) as [
  (typeof THREE_APPS)[number] & { appAppleId: number },
  (typeof THREE_APPS)[number] & { appAppleId: number },
  (typeof THREE_APPS)[number] & { appAppleId: number },
];

// The operator CLI over an installation of three apps (APPS_FILE), as an operator runs it: a
// process of its own, each app's data in its own schema (PostgreSQL) or database (PGlite).
// Only `kids` has App Store Server API credentials: the double answers for its bundle id.
describe('operator CLI with several apps (--app)', () => {
  const apple = useAppStoreApiDouble({ bundleId: KIDS.bundleId });
  const trusted = useTestPki();
  let workDir: string;
  let env: Record<string, string>;
  let dropDatabase: () => Promise<void> = async () => {};
  let databaseUrl: string | null;
  const userId = randomUUID();

  beforeAll(async () => {
    const { double } = apple;
    workDir = mkdtempSync(path.join(tmpdir(), 'ase-cli-apps-'));
    writeFileSync(path.join(workDir, 'root.der'), trusted.pki.rootDer);
    writeFileSync(path.join(workDir, 'kids.p8'), double.credentials.privateKey);
    const entry = (spec: typeof MAIN) => ({
      id: spec.id,
      bundleId: spec.bundleId,
      appAppleId: spec.appAppleId,
      environments: ['Production'],
      apiKeys: [spec.apiKey],
    });
    const apps = [
      entry(MAIN),
      { ...entry(KIDS), issuerId: double.credentials.issuerId, keyId: double.credentials.keyId, privateKeyFile: path.join(workDir, 'kids.p8') },
      entry(PHOTO),
    ];
    writeFileSync(path.join(workDir, 'apps.json'), JSON.stringify({ apps }));
    const empty = await createEmptyDatabase();
    databaseUrl = empty.url;
    dropDatabase = empty.drop;
    env = {
      APPS_FILE: path.join(workDir, 'apps.json'),
      APPLE_ROOT_CERTS: path.join(workDir, 'root.der'),
      APPLE_ONLINE_CHECKS: 'false',
      APPLE_API_BASE_URL: double.url,
      API_KEYS: GLOBAL_API_KEY,
      EVENTS_WEBHOOK_URLS: 'http://127.0.0.1:9/hooks',
      EVENTS_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=',
      DATA_DIR: path.join(workDir, 'data'),
      ...(databaseUrl === null ? {} : { DATABASE_URL: databaseUrl }),
      LOG_LEVEL: 'warn',
    };
    const migrated = await cli('migrate');
    expect(migrated.code, migrated.output).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await dropDatabase();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
    const run = runEntry('src/cli.ts', { cwd: workDir, env, args });
    const code = await run.exited;
    return { code, output: run.output() };
  }

  /** Reads app `appId`'s own database (closed again before the next CLI process opens it). */
  async function inApp<T>(appId: string, read: (db: Database) => Promise<T>): Promise<T> {
    const { schema, dataDir } = appDatabaseLocation({ dataDir: env.DATA_DIR! }, appId);
    const database = await openDatabase({ url: databaseUrl, dataDir, schema });
    try {
      return await read(database.db);
    } finally {
      await database.close();
    }
  }

  const storedNotifications = (appId: string) => inApp(appId, async (db) => (await db.select({ n: count() }).from(notifications))[0]!.n);
  // The result is printed indented (its first line a lone "{"); log lines on stderr are single-line JSON.
  const json = (output: string) => {
    const start = output.indexOf('{\n');
    return JSON.parse(output.slice(start, output.indexOf('\n}\n', start) + 2)) as Record<string, unknown>;
  };
  const kidsNotification = () =>
    signNotification(trusted.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      notificationUUID: randomUUID(),
      bundleId: KIDS.bundleId,
      appAppleId: KIDS.appAppleId,
      environment: 'Production',
      signedDate: Date.now() - 60_000,
      transaction: { appAccountToken: userId },
    });

  it('stops with exit status 2 and one line naming --app and the app ids when a command names no app or an unknown one', { timeout: 120_000 }, async () => {
    const missing = await cli('entitlements', userId);
    expect(missing.code, missing.output).toBe(2);
    expect(missing.output.trim()).toBe('APP_REQUIRED: this installation serves several apps (default, kids, Photo.Pro-2): name one with --app <id>');

    const unknown = await cli('replay', '--app', 'photo');
    expect(unknown.code, unknown.output).toBe(2);
    expect(unknown.output.trim()).toBe('UNKNOWN_APP: --app "photo" names no app of this installation (its apps: default, kids, Photo.Pro-2)');
  });

  it("recover --app kids applies kids' history to kids' data alone, and entitlements answers for the app it names", { timeout: 180_000 }, async () => {
    apple.double.reply('POST', HISTORY_PATH, historyPage([kidsNotification()]));
    const recovered = await cli('recover', '--app', 'kids', '--start', hoursAgo(24), '--end', hoursAgo(0));
    expect(recovered.code, recovered.output).toBe(0);
    expect(json(recovered.output)).toMatchObject({ fetched: 1, applied: 1 });
    expect(await storedNotifications('kids')).toBe(1);
    expect(await storedNotifications('default')).toBe(0);
    expect(await storedNotifications('Photo.Pro-2')).toBe(0);

    const inKids = await cli('entitlements', userId, '--app', 'kids');
    expect(inKids.code, inKids.output).toBe(0);
    expect(json(inKids.output)).toMatchObject({ userId, entitlements: [{ status: 'active' }] });
    const inMain = await cli('entitlements', userId, '--app', 'default');
    expect(inMain.code, inMain.output).toBe(0);
    expect(json(inMain.output)).toMatchObject({ userId, entitlements: [] });
  });

  it("events redeliver finds an event in the chosen app's data only", { timeout: 120_000 }, async () => {
    const [event] = await inApp('kids', (db) => recordedEvents(db));
    expect(event).toBeDefined();
    const elsewhere = await cli('events', 'redeliver', event!.id, '--app', 'Photo.Pro-2');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.output).toContain('EVENT_NOT_FOUND');
    const own = await cli('events', 'redeliver', event!.id, '--app', 'kids');
    expect(own.code, own.output).toBe(0);
    expect(json(own.output)).toEqual({ eventId: event!.id, deliveries: 1 });
  });

  it("replay rebuilds from the chosen app's stored notifications only", { timeout: 120_000 }, async () => {
    const kids = await cli('replay', '--app', 'kids');
    expect(kids.code, kids.output).toBe(0);
    expect(json(kids.output)).toMatchObject({ read: 1, applied: 1, rejected: 0 });
    const main = await cli('replay', '--app', 'default');
    expect(main.code, main.output).toBe(0);
    expect(json(main.output)).toMatchObject({ read: 0, applied: 0 });
  });

  it('recover without --app recovers every app with credentials and names the apps it skipped', { timeout: 120_000 }, async () => {
    apple.double.reply('POST', HISTORY_PATH, historyPage([kidsNotification()]));
    const result = await cli('recover', '--start', hoursAgo(24), '--end', hoursAgo(0));
    expect(result.code, result.output).toBe(0);
    expect(json(result.output)).toEqual({
      default: { skipped: 'API_NOT_CONFIGURED' },
      kids: { fetched: 1, applied: 1, duplicate: 0, rejected: 0, environments: ['Production'] },
      'Photo.Pro-2': { skipped: 'API_NOT_CONFIGURED' },
    });
    expect(await storedNotifications('kids')).toBe(2);
    expect(await storedNotifications('default')).toBe(0);
  });

  it('recover without --app carries on past an app whose recovery fails, prints its error and exits 1', { timeout: 120_000 }, async () => {
    apple.double.reply('POST', HISTORY_PATH, { status: 401 });
    const result = await cli('recover', '--start', hoursAgo(24), '--end', hoursAgo(0));
    expect(result.code, result.output).toBe(1);
    expect(json(result.output)).toMatchObject({ default: { skipped: 'API_NOT_CONFIGURED' }, kids: { error: { code: expect.any(String) } } });
    expect(result.output).toContain('recovery failed for app kids');
  });
});
