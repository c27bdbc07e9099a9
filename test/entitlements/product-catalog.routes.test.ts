import { describe, expect, it } from 'vitest';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { at, getEntitlements, manualClock, postTransaction, transactionPayload } from './app-backend-fixtures.js';

const SEASON = 'com.example.season';
const OPEN_PASS = 'com.example.openpass';

describe(`non-renewing subscriptions through GET /entitlements/:userId with a catalog (${backendName})`, () => {
  const time = manualClock('2026-11-10T00:00:00Z');
  const log = capturingLogger();
  const catalog = parseEntitlementsFile(
    JSON.stringify({ entitlements: { pro: [SEASON] }, products: { [SEASON]: { type: 'Non-Renewing Subscription', duration: 'P3M' } } }),
  );
  const t = useTestApp({ clock: time.clock, overrides: { entitlementMap: catalog, logger: log.logger } });

  const nonRenewing = (transactionId: string, productId: string) =>
    transactionPayload({ transactionId, productId, type: 'Non-Renewing Subscription', expiresDate: undefined, purchaseDate: at('2026-11-01T10:00:00Z') });

  it('answers expiresDate = purchaseDate + the catalog duration, and expired after it', async () => {
    time.set('2026-11-10T00:00:00Z');
    expect((await postTransaction(t, 'season-buyer', nonRenewing('4100000000000001', SEASON))).statusCode).toBe(200);

    const during = (await getEntitlements(t, 'season-buyer')).json();
    expect(during.entitlements).toMatchObject([{ entitlement: 'pro', status: 'active', active: true, expiresDate: '2027-02-01T10:00:00.000Z' }]);

    time.set('2027-02-01T10:00:00Z');
    const after = (await getEntitlements(t, 'season-buyer')).json();
    expect(after.entitlements).toMatchObject([{ entitlement: 'pro', status: 'expired', active: false, expiresDate: '2027-02-01T10:00:00.000Z' }]);
  });

  it('keeps a non-renewing product without a duration active with expiresDate null and warns once per product id', async () => {
    time.set('2026-11-10T00:00:00Z');
    expect((await postTransaction(t, 'open-buyer', nonRenewing('4100000000000002', OPEN_PASS))).statusCode).toBe(200);

    for (let i = 0; i < 3; i++) {
      const body = (await getEntitlements(t, 'open-buyer')).json();
      expect(body.entitlements).toMatchObject([{ entitlement: OPEN_PASS, status: 'active', expiresDate: null }]);
    }
    const warnings = log.lines.filter((line) => line.productId === OPEN_PASS);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain('ENTITLEMENTS_FILE');
    expect(log.lines.filter((line) => line.productId === SEASON)).toHaveLength(0);
  });
});
