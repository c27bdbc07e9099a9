import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { transactions } from '../../src/db/schema.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { backendName } from '../helpers/database.js';
import { v1Body, V1_TEST, type V1BodyOptions } from '../helpers/v1-bodies.js';
import { wipeData, withoutLoadShedding } from './support.js';

const SEASON = 'com.example.season';
const LIFETIME = 'com.example.lifetime';

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, stream), lines };
}

/** A body applied from its own data (no receipt to verify): what V1 says is all there is. */
function bodyWithoutReceipt(options: V1BodyOptions): Record<string, unknown> {
  const body = v1Body('CONSUMPTION_REQUEST', options) as { unified_receipt: Record<string, unknown> };
  delete body.unified_receipt.latest_receipt;
  return body;
}

describe(`V1 product types from the catalog through POST /webhooks/apple/v1 (${backendName})`, () => {
  const log = capturingLogger();
  const catalog = parseEntitlementsFile(
    JSON.stringify({
      entitlements: { pro: [SEASON, LIFETIME] },
      products: { [V1_TEST.coins]: { type: 'Consumable' }, [SEASON]: { type: 'Non-Renewing Subscription', duration: 'P3M' } },
    }),
  );
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({
      env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret },
      overrides: withoutLoadShedding({ entitlementMap: catalog, logger: log.logger, verifyReceipt: null }),
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await wipeData(t.deps.database.db);
  });

  const post = (payload: unknown) => t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: payload as object });
  const storedTypes = async () =>
    (await t.deps.database.db.select().from(transactions).orderBy(transactions.transactionId)).map((row) => [row.productId, row.productType]);

  it('stores a V1 consumable and non-renewing purchase with the catalog type, not as lifetime Non-Consumables', async () => {
    const response = await post(
      bodyWithoutReceipt({
        transactions: [
          { transactionId: '1000000000000090', productId: V1_TEST.coins, purchase: V1_TEST.start, expires: null },
          { transactionId: '1000000000000091', productId: SEASON, purchase: V1_TEST.start, expires: null },
        ],
      }),
    );
    expect(response.statusCode, response.body).toBe(200);
    expect(await storedTypes()).toEqual([
      [V1_TEST.coins, 'Consumable'],
      [SEASON, 'Non-Renewing Subscription'],
    ]);
  });

  it('stores an unlisted V1 product without an expiry as a Non-Consumable and warns once per product id', async () => {
    for (const transactionId of ['1000000000000092', '1000000000000093']) {
      const body = bodyWithoutReceipt({ transactions: [{ transactionId, productId: LIFETIME, purchase: V1_TEST.start, expires: null }] });
      expect((await post(body)).statusCode).toBe(200);
    }
    expect(await storedTypes()).toEqual([
      [LIFETIME, 'Non-Consumable'],
      [LIFETIME, 'Non-Consumable'],
    ]);
    const warnings = log.lines.filter((line) => line.productId === LIFETIME);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain('ENTITLEMENTS_FILE');
  });
});
