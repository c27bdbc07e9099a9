import { ReceiptError } from './errors.js';
import { decodeReceiptPayload } from './payload.js';
import { openSignedData, verifySignedData } from './signed-data.js';
import type { AppReceipt } from './types.js';

export interface ParseAppReceiptOptions {
  /** DER certificates trusted as roots; for Apple's receipts, Apple Inc. Root (`loadAppleIncRootCertificate`). */
  rootCertificates: Uint8Array[];
  /**
   * When the certificate chain must be valid. Defaults to the receipt's own creation
   * date: Apple's receipt signing certificates expire while the receipts they signed stay
   * valid, and the date is inside the signed content so it cannot be moved by a forger.
   */
  checkDate?: Date;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64.test(compact)) {
    throw new ReceiptError('MALFORMED_RECEIPT', 'receipt is not base64');
  }
  return new Uint8Array(Buffer.from(compact, 'base64'));
}

/** Decodes a base64 app receipt (StoreKit 1), verifies its signature chain, and returns its fields. */
export async function parseAppReceipt(base64: string, options: ParseAppReceiptOptions): Promise<AppReceipt> {
  if (typeof base64 !== 'string') throw new ReceiptError('MALFORMED_RECEIPT', 'receipt must be a base64 string');
  const { signedData, content } = openSignedData(decodeBase64(base64));
  const receipt = decodeReceiptPayload(content);
  await verifySignedData(signedData, {
    rootCertificates: options.rootCertificates,
    checkDate: options.checkDate ?? new Date(receipt.receiptCreationDate),
  });
  return receipt;
}
