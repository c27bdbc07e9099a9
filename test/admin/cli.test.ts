import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { TEST_MONTHLY_PRODUCT_ID } from '../helpers/constants.js';
import { useAppStoreApiDouble, useTestPki } from '../helpers/fixtures.js';
import { signNotification } from '../helpers/pki.js';
import { runEntry } from '../helpers/process.js';
import { HISTORY_PATH, historyPage, hoursAgo } from './fixture.js';

// The operator CLI as an operator runs it: a process of its own, settings from the
// environment, an embedded database under DATA_DIR, Apple played by the double.
describe('operator CLI (npm run cli)', () => {
  const apple = useAppStoreApiDouble({ bundleId: TEST_BUNDLE_ID });
  const trusted = useTestPki();
  let workDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    const { double } = apple;
    workDir = mkdtempSync(path.join(tmpdir(), 'ase-cli-'));
    writeFileSync(path.join(workDir, 'root.der'), trusted.pki.rootDer);
    env = {
      APPLE_BUNDLE_ID: TEST_BUNDLE_ID,
      APPLE_APP_APPLE_ID: String(TEST_APP_APPLE_ID),
      APPLE_ENVIRONMENTS: 'Production',
      APPLE_ROOT_CERTS: path.join(workDir, 'root.der'),
      APPLE_ONLINE_CHECKS: 'false',
      APPLE_ISSUER_ID: double.credentials.issuerId,
      APPLE_KEY_ID: double.credentials.keyId,
      APPLE_PRIVATE_KEY: double.credentials.privateKey,
      APPLE_API_BASE_URL: double.url,
      API_KEYS: 'cli-test-key-0123456789',
      DATA_DIR: path.join(workDir, 'data'),
      LOG_LEVEL: 'warn',
    };
  });
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function cli(...args: string[]): Promise<{ code: number | null; output: string }> {
    const run = runEntry('src/cli.ts', { cwd: workDir, env, args });
    const code = await run.exited;
    return { code, output: run.output() };
  }

  // Two processes that each open the embedded database on disk: slow on a loaded machine.
  it('recover applies the history of the window, and entitlements then shows what it granted', { timeout: 120_000 }, async () => {
    const userId = randomUUID();
    const signedPayload = signNotification(trusted.pki, {
      notificationType: 'SUBSCRIBED',
      subtype: 'INITIAL_BUY',
      bundleId: TEST_BUNDLE_ID,
      appAppleId: TEST_APP_APPLE_ID,
      environment: 'Production',
      signedDate: Date.now() - 60_000,
      transaction: { appAccountToken: userId },
    });
    apple.double.reply('POST', HISTORY_PATH, historyPage([signedPayload]));

    const recovered = await cli('recover', '--start', hoursAgo(24), '--end', hoursAgo(0), '--only-failures');
    expect(recovered.code, recovered.output).toBe(0);
    expect(JSON.parse(recovered.output)).toEqual({ fetched: 1, applied: 1, duplicate: 0, rejected: 0, environments: ['Production'] });
    expect(apple.double.requests[0]?.body).toMatchObject({ onlyFailures: true });

    const shown = await cli('entitlements', userId);
    expect(shown.code, shown.output).toBe(0);
    const answer = JSON.parse(shown.output) as { userId: string; entitlements: { productId: string; status: string }[] };
    expect(answer.userId).toBe(userId);
    expect(answer.entitlements).toMatchObject([{ productId: TEST_MONTHLY_PRODUCT_ID, status: 'active' }]);
  });

  it('refuses a window more than 180 days back with its code and exit status 1', async () => {
    const result = await cli('recover', '--start', hoursAgo(200 * 24), '--end', hoursAgo(1));
    expect(result.code).toBe(1);
    expect(result.output).toContain('WINDOW_TOO_OLD');
  });

  it("restore links every purchase of the Apple Account's history to the user and prints the entitlements", { timeout: 120_000 }, async () => {
    const start = Date.now() - 5 * 24 * 3_600_000;
    const sign = (transactionId: string, productId: string) =>
      trusted.pki.sign({
        transactionId,
        originalTransactionId: transactionId,
        bundleId: TEST_BUNDLE_ID,
        productId,
        purchaseDate: start,
        originalPurchaseDate: start,
        expiresDate: start + 30 * 24 * 3_600_000,
        type: 'Auto-Renewable Subscription',
        inAppOwnershipType: 'PURCHASED',
        signedDate: start + 1_000,
        environment: 'Production',
        transactionReason: 'PURCHASE',
      });
    apple.double.reply(
      'GET',
      '/inApps/v2/history/3100',
      { body: { signedTransactions: [sign('3100', TEST_MONTHLY_PRODUCT_ID)], hasMore: true, revision: 'r1' } },
      { body: { signedTransactions: [sign('3200', 'com.example.pro.yearly')], hasMore: false, revision: 'r2' } },
    );

    const result = await cli('restore', 'u-cli-restore', '3100');
    expect(result.code, result.output).toBe(0);
    const answer = JSON.parse(result.output) as { userId: string; entitlements: { originalTransactionId: string }[] };
    expect(answer.userId).toBe('u-cli-restore');
    expect(answer.entitlements.map((e) => e.originalTransactionId).sort()).toEqual(['3100', '3200']);
  });

  it('answers a missing option with the usage text and exit status 2', async () => {
    const result = await cli('recover', '--start', hoursAgo(1));
    expect(result.code).toBe(2);
    expect(result.output).toContain('recover --start <ISO 8601> --end <ISO 8601> [--only-failures]');
  });
});
