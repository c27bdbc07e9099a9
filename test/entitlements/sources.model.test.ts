import { describe, expect, it } from 'vitest';
import type { EntitlementView } from '../../src/entitlements/entitlements.model.js';
import { type AppTransactionRecord, combineSources, compareVersions, type GrantRecord, qualifiesForAppPurchase } from '../../src/entitlements/sources.model.js';

const now = new Date('2026-12-01T10:00:00Z');
const grant = (overrides: Partial<GrantRecord> = {}): GrantRecord => ({
  grantId: 'grt_1',
  entitlement: 'pro',
  startsAt: new Date('2026-11-01T00:00:00Z'),
  expiresDate: new Date('2027-01-01T00:00:00Z'),
  endedAt: null,
  updatedAt: new Date('2026-11-01T00:00:00Z'),
  ...overrides,
});
const appTransaction = (version: string | null): AppTransactionRecord => ({
  environment: 'Production',
  originalApplicationVersion: version,
  originalPurchaseDate: new Date('2024-01-01T00:00:00Z'),
  updatedAt: now,
});
const purchase = (active: boolean): EntitlementView =>
  ({ entitlement: 'pro', active, status: active ? 'active' : 'expired', source: 'app_store', productId: 'p' }) as EntitlementView;

describe('compareVersions', () => {
  it('compares dot-separated numbers part by part', () => {
    expect(compareVersions('1.10', '1.9')).toBeGreaterThan(0);
    expect(compareVersions('1.9', '1.10')).toBeLessThan(0);
    expect(compareVersions('2', '2.0')).toBe(0);
    expect(compareVersions('2.0.1', '2.0')).toBeGreaterThan(0);
    expect(compareVersions('1.0b', '2.0')).toBeNull();
  });

  it('lets a buyer qualify only before the rule version, and never without a numeric version', () => {
    const rule = { entitlement: 'pro', beforeVersion: '2.0' };
    expect(qualifiesForAppPurchase(appTransaction('1.99'), rule)).toBe(true);
    expect(qualifiesForAppPurchase(appTransaction('2.0'), rule)).toBe(false);
    expect(qualifiesForAppPurchase(appTransaction(null), rule)).toBe(false);
    expect(qualifiesForAppPurchase(appTransaction('beta'), rule)).toBe(false);
  });
});

describe('combineSources', () => {
  const rule = { entitlement: 'pro', beforeVersion: '2.0' };

  it('keeps an active purchase over an active grant and an app purchase', () => {
    expect(combineSources([purchase(true)], [grant()], appTransaction('1.0'), rule, now).map((v) => v.source)).toEqual(['app_store']);
  });

  it('shows what gives access when the purchase does not: the app purchase before a grant', () => {
    expect(combineSources([purchase(false)], [grant()], null, null, now).map((v) => v.source)).toEqual(['grant']);
    expect(combineSources([purchase(false)], [grant()], appTransaction('1.0'), rule, now).map((v) => v.source)).toEqual(['app_purchase']);
  });

  it('shows the purchase when nothing gives access, and an ended grant only when alone', () => {
    const ended = grant({ expiresDate: new Date('2026-11-15T00:00:00Z') });
    expect(combineSources([purchase(false)], [ended], null, null, now).map((v) => v.source)).toEqual(['app_store']);
    expect(combineSources([], [ended], null, null, now)).toMatchObject([{ source: 'grant', status: 'expired', expiresDate: '2026-11-15T00:00:00.000Z' }]);
  });

  it('ends a grant at its early end, and picks the active grant ending last among several', () => {
    const early = grant({ grantId: 'grt_a', endedAt: new Date('2026-11-20T00:00:00Z') });
    expect(combineSources([], [early], null, null, now)).toMatchObject([{ status: 'expired', expiresDate: '2026-11-20T00:00:00.000Z' }]);
    const later = grant({ grantId: 'grt_b', expiresDate: new Date('2027-02-01T00:00:00Z') });
    expect(combineSources([], [early, grant(), later], null, null, now)).toMatchObject([{ status: 'active', expiresDate: '2027-02-01T00:00:00.000Z' }]);
  });

  it('lists several entitlements sorted by id', () => {
    const views = combineSources([purchase(true)], [grant({ entitlement: 'beta' }), grant({ entitlement: 'zeta' })], null, null, now);
    expect(views.map((v) => v.entitlement)).toEqual(['beta', 'pro', 'zeta']);
  });
});
