import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as pkijs from 'pkijs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { APPLE_INC_ROOT_SHA256, loadAppleIncRootCertificate, parseAppReceipt, ReceiptError } from '../../../src/apple/receipt/index.js';
import { MAX_RECEIPT_CERTIFICATE_BYTES, MAX_RECEIPT_CERTIFICATES } from '../../../src/apple/receipt/signed-data.js';
import { projectRoot } from '../../../src/paths.js';
import { createBloatedCertificate } from '../../helpers/pki.js';
import { buildReceipt, createReceiptPki, type ReceiptPki, type TestReceiptContent } from '../../helpers/receipt-builder.js';

const content: TestReceiptContent = {
  bundleId: 'com.example.app',
  applicationVersion: '42',
  receiptCreationDate: new Date('2024-03-01T12:00:00Z'),
  receiptType: 'ProductionSandbox',
  inApp: [
    {
      transactionId: '2000000000000001',
      productId: 'com.example.pro.monthly',
      purchaseDate: new Date('2024-01-01T10:00:00Z'),
      expiresDate: new Date('2024-02-01T10:00:00Z'),
      webOrderLineItemId: 2000000000000500n,
    },
    {
      transactionId: '2000000000000002',
      originalTransactionId: '2000000000000001',
      productId: 'com.example.pro.monthly',
      purchaseDate: new Date('2024-02-01T10:00:00Z'),
      originalPurchaseDate: new Date('2024-01-01T10:00:00Z'),
      expiresDate: new Date('2024-03-01T10:00:00Z'),
      webOrderLineItemId: 2000000000000501n,
    },
    {
      transactionId: '2000000000000003',
      productId: 'com.example.lifetime',
      quantity: 2,
      purchaseDate: new Date('2024-01-05T10:00:00Z'),
      cancellationDate: new Date('2024-01-06T10:00:00Z'),
    },
  ],
};

async function errorOf(promise: Promise<unknown>): Promise<ReceiptError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ReceiptError) return error;
    throw error;
  }
  throw new Error('expected a ReceiptError');
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ReceiptError) return error.code;
    throw error;
  }
  throw new Error('expected a ReceiptError');
}

describe('parseAppReceipt on receipts built by the tests', () => {
  let pki: ReceiptPki;
  let otherPki: ReceiptPki;
  beforeAll(async () => {
    [pki, otherPki] = await Promise.all([createReceiptPki(), createReceiptPki({ name: 'Attacker' })]);
  });

  for (const encoding of ['definite', 'indefinite'] as const) {
    it(`reads every field of a ${encoding}-length receipt signed under the trusted root`, async () => {
      const base64 = await buildReceipt(content, { pki, encoding });
      const der = Buffer.from(base64, 'base64');
      // 0x80 after the outer SEQUENCE tag is the indefinite-length marker.
      expect(der[1] === 0x80).toBe(encoding === 'indefinite');

      const receipt = await parseAppReceipt(base64, { rootCertificates: [pki.root.der] });
      expect(receipt).toMatchObject({
        bundleId: 'com.example.app',
        applicationVersion: '42',
        originalApplicationVersion: '1.0',
        receiptCreationDate: Date.parse('2024-03-01T12:00:00Z'),
        receiptType: 'ProductionSandbox',
        environment: 'Sandbox',
      });
      expect(receipt.inApp).toEqual([
        {
          transactionId: '2000000000000001',
          originalTransactionId: '2000000000000001',
          productId: 'com.example.pro.monthly',
          quantity: 1,
          purchaseDate: Date.parse('2024-01-01T10:00:00Z'),
          originalPurchaseDate: Date.parse('2024-01-01T10:00:00Z'),
          expiresDate: Date.parse('2024-02-01T10:00:00Z'),
          webOrderLineItemId: '2000000000000500',
        },
        {
          transactionId: '2000000000000002',
          originalTransactionId: '2000000000000001',
          productId: 'com.example.pro.monthly',
          quantity: 1,
          purchaseDate: Date.parse('2024-02-01T10:00:00Z'),
          originalPurchaseDate: Date.parse('2024-01-01T10:00:00Z'),
          expiresDate: Date.parse('2024-03-01T10:00:00Z'),
          webOrderLineItemId: '2000000000000501',
        },
        {
          transactionId: '2000000000000003',
          originalTransactionId: '2000000000000003',
          productId: 'com.example.lifetime',
          quantity: 2,
          purchaseDate: Date.parse('2024-01-05T10:00:00Z'),
          originalPurchaseDate: Date.parse('2024-01-05T10:00:00Z'),
          cancellationDate: Date.parse('2024-01-06T10:00:00Z'),
        },
      ]);
    });
  }

  it('accepts a receipt whose base64 is wrapped over several lines', async () => {
    const base64 = await buildReceipt(content, { pki });
    const wrapped = base64.replace(/(.{76})/g, '$1\n');
    const receipt = await parseAppReceipt(wrapped, { rootCertificates: [pki.root.der] });
    expect(receipt.inApp).toHaveLength(3);
  });

  it('rejects a receipt signed under a different root as untrusted, even when that root is embedded', async () => {
    const base64 = await buildReceipt(content, { pki: otherPki, includeRoot: true, encoding: 'indefinite' });
    expect(await codeOf(parseAppReceipt(base64, { rootCertificates: [pki.root.der] }))).toBe('RECEIPT_UNTRUSTED');
  });

  it('rejects a receipt whose content was changed after signing', async () => {
    const forged = { ...content, bundleId: 'com.example.other' };
    const base64 = await buildReceipt(content, { pki, swapContentAfterSigning: forged });
    expect(await codeOf(parseAppReceipt(base64, { rootCertificates: [pki.root.der] }))).toBe('RECEIPT_SIGNATURE_INVALID');
  });

  it('rejects a receipt whose signer certificate had expired at the given check date', async () => {
    const shortLived = await createReceiptPki({ name: 'Short', signerNotAfter: new Date('2024-06-01T00:00:00Z') });
    const base64 = await buildReceipt(content, { pki: shortLived });
    const rootCertificates = [shortLived.root.der];
    await expect(parseAppReceipt(base64, { rootCertificates })).resolves.toMatchObject({ bundleId: 'com.example.app' });
    expect(await codeOf(parseAppReceipt(base64, { rootCertificates, checkDate: new Date('2025-01-01T00:00:00Z') }))).toBe('RECEIPT_CERT_EXPIRED');
  });

  it('rejects input that is not base64 or not PKCS#7 as malformed', async () => {
    const rootCertificates = [pki.root.der];
    expect(await codeOf(parseAppReceipt('not base64!', { rootCertificates }))).toBe('MALFORMED_RECEIPT');
    expect(await codeOf(parseAppReceipt('', { rootCertificates }))).toBe('MALFORMED_RECEIPT');
    expect(await codeOf(parseAppReceipt(Buffer.from('fake_receipt').toString('base64'), { rootCertificates }))).toBe('MALFORMED_RECEIPT');
    const truncated = (await buildReceipt(content, { pki })).slice(0, 800);
    expect(await codeOf(parseAppReceipt(truncated, { rootCertificates }))).toBe('MALFORMED_RECEIPT');
  });

  describe('hostile certificate bags', () => {
    afterEach(() => vi.restoreAllMocks());

    it('rejects a receipt carrying a certificate over the size cap before parsing any certificate', async () => {
      const oversize = await createBloatedCertificate(700);
      expect(oversize.length).toBeGreaterThan(MAX_RECEIPT_CERTIFICATE_BYTES);
      const receipt = await buildReceipt(content, { pki, extraCertificates: [oversize] });
      const extensions = vi.spyOn(pkijs.Extension.prototype, 'fromSchema');
      const error = await errorOf(parseAppReceipt(receipt, { rootCertificates: [pki.root.der] }));
      expect(error.code).toBe('MALFORMED_RECEIPT');
      expect(error.message).toMatch(new RegExp(`certificate 2 .* over the limit of ${MAX_RECEIPT_CERTIFICATE_BYTES} bytes`));
      expect(extensions).not.toHaveBeenCalled();
    });

    it('rejects a receipt carrying more certificates than a chain needs before parsing them', async () => {
      const receipt = await buildReceipt(content, { pki, includeRoot: true, extraCertificates: Array(8).fill(pki.intermediate.der) });
      const extensions = vi.spyOn(pkijs.Extension.prototype, 'fromSchema');
      const error = await errorOf(parseAppReceipt(receipt, { rootCertificates: [pki.root.der] }));
      expect(error.code).toBe('MALFORMED_RECEIPT');
      expect(error.message).toMatch(new RegExp(`11 certificates, more than ${MAX_RECEIPT_CERTIFICATES}`));
      expect(extensions).not.toHaveBeenCalled();
    });
  });
});

describe('the bundled Apple Inc. Root certificate', () => {
  it('is byte for byte the published Apple Inc. Root', async () => {
    const der = await loadAppleIncRootCertificate();
    expect(createHash('sha256').update(der).digest('hex')).toBe('b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024');
    expect(APPLE_INC_ROOT_SHA256).toBe('b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024');
  });

  it('refuses a file that is not Apple Inc. Root', async () => {
    const other = path.join(projectRoot, 'assets', 'apple', 'AppleRootCA-G3.cer');
    expect(await codeOf(loadAppleIncRootCertificate(other))).toBe('ROOT_CERTIFICATE_MISMATCH');
  });
});

const realDir = path.resolve(projectRoot, '../shared/apple/real');
const realReceipt = path.join(realDir, 'app-receipt-1.b64');

describe.skipIf(!existsSync(realReceipt))('a real Sandbox app receipt (skipped when ../shared/apple/real is absent)', () => {
  it('verifies at its creation date under Apple Inc. Root and yields its transaction ids', async () => {
    const root = await loadAppleIncRootCertificate();
    const receipt = await parseAppReceipt(readFileSync(realReceipt, 'utf8'), { rootCertificates: [root] });
    expect(receipt.bundleId).toBe('com.revenuecat.sampleapp');
    expect(receipt.receiptType).toBe('ProductionSandbox');
    expect(receipt.environment).toBe('Sandbox');
    expect(new Date(receipt.receiptCreationDate).toISOString()).toBe('2020-07-22T17:39:08.000Z');
    expect(receipt.inApp.length).toBeGreaterThan(0);
    expect(new Set(receipt.inApp.map((p) => p.originalTransactionId))).toEqual(new Set(['1000000692878476']));
    expect(receipt.inApp.map((p) => p.transactionId)).toContain('1000000692878476');
    for (const purchase of receipt.inApp) {
      expect(purchase.transactionId).toMatch(/^\d+$/);
      expect(purchase.productId).toMatch(/^com\.revenuecat\./);
      expect(purchase.purchaseDate).toBeGreaterThan(Date.parse('2020-07-01T00:00:00Z'));
    }
  });

  it('is refused when checked today, because its signing certificate expired in 2023', async () => {
    const root = await loadAppleIncRootCertificate();
    const base64 = readFileSync(realReceipt, 'utf8');
    expect(await codeOf(parseAppReceipt(base64, { rootCertificates: [root], checkDate: new Date('2024-01-01T00:00:00Z') }))).toBe('RECEIPT_CERT_EXPIRED');
  });

  it('is refused as untrusted under Apple Root CA - G3, which does not sign receipts', async () => {
    const g3 = new Uint8Array(readFileSync(path.join(projectRoot, 'assets', 'apple', 'AppleRootCA-G3.cer')));
    expect(await codeOf(parseAppReceipt(readFileSync(realReceipt, 'utf8'), { rootCertificates: [g3] }))).toBe('RECEIPT_UNTRUSTED');
  });
});
