import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { addIsoDuration, parseIsoDuration } from '../../src/entitlements/iso-duration.js';
import { loadConfig } from '../../src/load-config.js';

const SPEC_EXAMPLE = {
  entitlements: { pro: ['com.example.pro.monthly', 'com.example.pro.yearly', 'com.example.lifetime', 'com.example.season'] },
  products: {
    'com.example.season': { type: 'Non-Renewing Subscription', duration: 'P3M' },
    'com.example.coins100': { type: 'Consumable' },
  },
  appPurchase: { entitlement: 'pro', beforeVersion: '2.0' },
};

const parse = (catalog: unknown) => parseEntitlementsFile(JSON.stringify(catalog));

function loadWith(catalog: unknown): ReturnType<typeof loadConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'catalog-'));
  const path = join(dir, 'entitlements.json');
  writeFileSync(path, typeof catalog === 'string' ? catalog : JSON.stringify(catalog));
  return loadConfig({
    DATABASE_URL: 'postgres://localhost/test',
    APPLE_BUNDLE_ID: 'com.example.app',
    API_KEYS: 'a-test-key-of-at-least-16-chars',
    ENTITLEMENTS_FILE: path,
  });
}

describe('the product catalog in ENTITLEMENTS_FILE', () => {
  it('reads SPEC’s example: entitlements, product types, a duration and the app-purchase rule', () => {
    const catalog = parse(SPEC_EXAMPLE);
    expect(catalog.entitlementsFor('com.example.season')).toEqual(['pro']);
    expect(catalog.productTypeOf('com.example.season')).toBe('Non-Renewing Subscription');
    expect(catalog.productTypeOf('com.example.coins100')).toBe('Consumable');
    expect(catalog.durationOf('com.example.season')).toMatchObject({ text: 'P3M', months: 3 });
    expect(catalog.durationOf('com.example.coins100')).toBeNull();
    expect(catalog.appPurchase).toEqual({ entitlement: 'pro', beforeVersion: '2.0' });
  });

  it('keeps the old format with only entitlements valid, knowing no types or durations', () => {
    const catalog = parse({ entitlements: { pro: ['com.example.pro.monthly'] } });
    expect(catalog.entitlementsFor('com.example.pro.monthly')).toEqual(['pro']);
    expect(catalog.entitlementsFor('com.example.other')).toEqual(['com.example.other']);
    expect(catalog.productTypeOf('com.example.pro.monthly')).toBeNull();
    expect(catalog.durationOf('com.example.pro.monthly')).toBeNull();
    expect(catalog.appPurchase).toBeNull();
  });

  it.each([
    [{ entitlements: {}, products: { x: { type: 'Subscription' } } }, 'products."x".type'],
    [{ entitlements: {}, products: { x: { type: 'Non-Renewing Subscription', duration: '3 months' } } }, 'products."x".duration'],
    [{ entitlements: {}, products: { x: { duration: 'P0D' } } }, 'products."x".duration'],
    [{ entitlements: {}, products: { x: { duration: 30 } } }, 'products."x".duration'],
    [{ entitlements: {}, products: { x: { type: 'Auto-Renewable Subscription', duration: 'P1M' } } }, 'products."x".duration'],
    [{ entitlements: {}, products: { x: { type: 'Non-Renewing Subscription', durations: 'P1M' } } }, 'unknown key "durations"'],
    [{ entitlements: {}, products: ['x'] }, '"products"'],
    [{ entitlements: {}, products: { x: 'P1M' } }, 'products."x"'],
    [{ entitlements: {}, appPurchase: { entitlement: 'pro', beforeVersion: 'two' } }, 'appPurchase.beforeVersion'],
    [{ entitlements: {}, appPurchase: { entitlement: '', beforeVersion: '2.0' } }, 'appPurchase.entitlement'],
    [{ entitlements: {}, appPurchase: 'pro' }, '"appPurchase"'],
    [{ entitlements: {}, product: {} }, 'unknown key "product"'],
    [{ products: {} }, '"entitlements"'],
  ])('stops start-up on a malformed catalog with one line naming ENTITLEMENTS_FILE and the field (%j)', (catalog, field) => {
    let thrown: unknown;
    try {
      loadWith(catalog);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const message = (thrown as ConfigError).message;
    expect(message.startsWith('ENTITLEMENTS_FILE ')).toBe(true);
    expect(message).toContain(field);
    expect(message).not.toContain('\n');
  });

  it('loads a valid catalog file into the configuration', () => {
    const { entitlementMap } = loadWith(SPEC_EXAMPLE);
    expect(entitlementMap.durationOf('com.example.season')?.text).toBe('P3M');
  });
});

describe('ISO 8601 durations of the catalog', () => {
  const start = new Date('2026-01-31T10:00:00Z');
  const plus = (text: string, from = start) => addIsoDuration(from, parseIsoDuration(text)!).toISOString();

  it('adds months and years in the UTC calendar, clamping to the end of a shorter month', () => {
    expect(plus('P1M')).toBe('2026-02-28T10:00:00.000Z');
    expect(plus('P1M', new Date('2028-01-31T10:00:00Z'))).toBe('2028-02-29T10:00:00.000Z');
    expect(plus('P3M')).toBe('2026-04-30T10:00:00.000Z');
    expect(plus('P1Y', new Date('2028-02-29T00:00:00Z'))).toBe('2029-02-28T00:00:00.000Z');
    expect(plus('P1M', new Date('2026-12-15T00:00:00Z'))).toBe('2027-01-15T00:00:00.000Z');
  });

  it('adds weeks, days and hours', () => {
    expect(plus('P7D')).toBe('2026-02-07T10:00:00.000Z');
    expect(plus('P1W')).toBe('2026-02-07T10:00:00.000Z');
    expect(plus('PT1H')).toBe('2026-01-31T11:00:00.000Z');
    expect(plus('P1DT12H')).toBe('2026-02-01T22:00:00.000Z');
  });

  it('refuses what is not a positive duration', () => {
    for (const text of ['P', 'PT', '1M', 'P1.5M', 'P-1M', 'P0D', 'p1m', 'P1MT', 'P99999Y']) expect(parseIsoDuration(text)).toBeNull();
  });
});
