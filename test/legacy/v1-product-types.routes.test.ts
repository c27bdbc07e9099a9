import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { transactions } from '../../src/db/schema.js';
import { parseEntitlementsFile } from '../../src/entitlements/entitlement-map.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { capturingLogger } from '../helpers/log-capture.js';
import { wipe } from '../helpers/rows.js';
import { V1_TEST, type V1BodyOptions, v1Body } from '../helpers/v1-bodies.js';
import { answerSandboxReceipts, useVerifyReceiptDouble } from './verify-receipt-double.js';

const SEASON = 'com.example.season';
const LIFETIME = 'com.example.lifetime';

type Body = { unified_receipt: Record<string, unknown> };

/** A body whose receipt verifyReceipt confirms as it is: V1 data, with no product type of Apple's. */
function confirmedBody(options: V1BodyOptions): Body {
  return v1Body('CONSUMPTION_REQUEST', options) as Body;
}

describe(`V1 product types from the catalog through POST /webhooks/apple/v1 (${backendName})`, () => {
  const log = capturingLogger();
  const catalog = parseEntitlementsFile(
    JSON.stringify({
      entitlements: { pro: [SEASON, LIFETIME] },
      products: { [V1_TEST.coins]: { type: 'Consumable' }, [SEASON]: { type: 'Non-Renewing Subscription', duration: 'P3M' } },
    }),
  );
  const verifyReceipt = useVerifyReceiptDouble();
  // latest_receipt → the unified receipt verifyReceipt answers for it.
  const receipts = new Map<string, Record<string, unknown>>();
  beforeAll(() => {
    // The test receipts are Sandbox ones: production redirects with 21007, as Apple does.
    answerSandboxReceipts(verifyReceipt.double, receipts);
  });
  const t = useTestApp(() => ({
    env: { APPLE_SHARED_SECRET: V1_TEST.sharedSecret, APPLE_VERIFY_RECEIPT_URL: verifyReceipt.double.url },
    overrides: { entitlementMap: catalog, logger: log.logger },
  }));
  beforeEach(async () => {
    await wipe(t.deps.database.db);
    receipts.clear();
  });

  const post = (body: Body) => {
    receipts.set(String(body.unified_receipt.latest_receipt), body.unified_receipt);
    return t.app.inject({ method: 'POST', url: '/webhooks/apple/v1', payload: body });
  };
  const storedTypes = async () =>
    (await t.deps.database.db.select().from(transactions).orderBy(transactions.transactionId)).map((row) => [row.productId, row.productType]);

  it('stores a V1 consumable and non-renewing purchase with the catalog type, not as lifetime Non-Consumables', async () => {
    const response = await post(
      confirmedBody({
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
      const body = confirmedBody({ transactions: [{ transactionId, productId: LIFETIME, purchase: V1_TEST.start, expires: null }] });
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
