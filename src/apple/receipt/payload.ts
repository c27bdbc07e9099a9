import * as asn1js from 'asn1js';
import { ReceiptError } from './errors.js';
import type { AppReceipt, AppReceiptInApp } from './types.js';

// Attribute numbers from Apple's "Receipt Fields" documentation.
const APP = {
  receiptType: 0,
  bundleId: 2,
  applicationVersion: 3,
  receiptCreationDate: 12,
  inApp: 17,
  originalApplicationVersion: 19,
  receiptExpirationDate: 21,
} as const;
const IN_APP = {
  quantity: 1701,
  productId: 1702,
  transactionId: 1703,
  purchaseDate: 1704,
  originalTransactionId: 1705,
  originalPurchaseDate: 1706,
  expiresDate: 1708,
  webOrderLineItemId: 1711,
  cancellationDate: 1712,
  isTrialPeriod: 1713,
  isInIntroOfferPeriod: 1719,
  promotionalOfferId: 1721,
} as const;

interface Attribute {
  type: number;
  value: Uint8Array;
}

function malformed(message: string): ReceiptError {
  return new ReceiptError('MALFORMED_RECEIPT', message);
}

function decodeOne(bytes: Uint8Array, what: string): asn1js.AsnType {
  const parsed = asn1js.fromBER(bytes);
  if (parsed.offset === -1 || parsed.offset !== bytes.byteLength) {
    throw malformed(`${what} is not a single ASN.1 value`);
  }
  return parsed.result;
}

/** ReceiptAttribute ::= SEQUENCE { type INTEGER, version INTEGER, value OCTET STRING }, in a SET. */
function readAttributeSet(bytes: Uint8Array, what: string): Attribute[] {
  const set = decodeOne(bytes, what);
  if (!(set instanceof asn1js.Set)) throw malformed(`${what} is not an ASN.1 SET`);
  return set.valueBlock.value.map((item) => {
    if (!(item instanceof asn1js.Sequence)) throw malformed(`${what} holds a non-SEQUENCE attribute`);
    const [type, version, value] = item.valueBlock.value;
    if (!(type instanceof asn1js.Integer) || !(version instanceof asn1js.Integer) || !(value instanceof asn1js.OctetString)) {
      throw malformed(`${what} holds an attribute that is not (INTEGER, INTEGER, OCTET STRING)`);
    }
    return { type: Number(type.toBigInt()), value: new Uint8Array(value.getValue()) };
  });
}

function asString(attr: Attribute, what: string): string {
  const inner = decodeOne(attr.value, what);
  if (inner instanceof asn1js.Utf8String || inner instanceof asn1js.IA5String) return inner.getValue();
  throw malformed(`${what} is not a string`);
}

function asBigInt(attr: Attribute, what: string): bigint {
  const inner = decodeOne(attr.value, what);
  if (inner instanceof asn1js.Integer) return inner.toBigInt();
  throw malformed(`${what} is not an INTEGER`);
}

/** Apple writes dates as RFC 3339 IA5Strings, and an empty string where a date does not apply. */
function asDate(attr: Attribute, what: string): number | undefined {
  const text = asString(attr, what);
  if (text === '') return undefined;
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text) || Number.isNaN(ms)) throw malformed(`${what} is not a date: ${text}`);
  return ms;
}

function byType(attributes: Attribute[]): Map<number, Attribute> {
  // Apple writes each field once; should one repeat, the first wins deterministically.
  const map = new Map<number, Attribute>();
  for (const attr of attributes) if (!map.has(attr.type)) map.set(attr.type, attr);
  return map;
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw malformed(`receipt lacks ${what}`);
  return value;
}

function readInApp(bytes: Uint8Array, index: number): AppReceiptInApp {
  const fields = byType(readAttributeSet(bytes, `in-app receipt ${index}`));
  const str = (type: number, name: string) => {
    const a = fields.get(type);
    return a === undefined ? undefined : asString(a, `in-app ${index} ${name}`);
  };
  const date = (type: number, name: string) => {
    const a = fields.get(type);
    return a === undefined ? undefined : asDate(a, `in-app ${index} ${name}`);
  };
  const int = (type: number, name: string) => {
    const a = fields.get(type);
    return a === undefined ? undefined : asBigInt(a, `in-app ${index} ${name}`);
  };
  const quantity = int(IN_APP.quantity, 'quantity');
  const webOrder = int(IN_APP.webOrderLineItemId, 'web order line item id');
  const trial = int(IN_APP.isTrialPeriod, 'is trial period');
  const intro = int(IN_APP.isInIntroOfferPeriod, 'is in intro offer period');
  const promo = str(IN_APP.promotionalOfferId, 'promotional offer id');
  const result: AppReceiptInApp = {
    transactionId: required(str(IN_APP.transactionId, 'transaction id'), `in-app ${index} transaction id`),
    originalTransactionId: required(str(IN_APP.originalTransactionId, 'original transaction id'), `in-app ${index} original transaction id`),
    productId: required(str(IN_APP.productId, 'product id'), `in-app ${index} product id`),
    purchaseDate: required(date(IN_APP.purchaseDate, 'purchase date'), `in-app ${index} purchase date`),
  };
  if (quantity !== undefined) result.quantity = Number(quantity);
  const originalPurchaseDate = date(IN_APP.originalPurchaseDate, 'original purchase date');
  if (originalPurchaseDate !== undefined) result.originalPurchaseDate = originalPurchaseDate;
  const expiresDate = date(IN_APP.expiresDate, 'expires date');
  if (expiresDate !== undefined) result.expiresDate = expiresDate;
  const cancellationDate = date(IN_APP.cancellationDate, 'cancellation date');
  if (cancellationDate !== undefined) result.cancellationDate = cancellationDate;
  // Apple writes 0 for purchases that have no web order line item (non-subscriptions).
  if (webOrder !== undefined && webOrder !== 0n) result.webOrderLineItemId = webOrder.toString();
  if (trial !== undefined) result.isTrialPeriod = trial !== 0n;
  if (intro !== undefined) result.isInIntroOfferPeriod = intro !== 0n;
  if (promo !== undefined && promo !== '') result.promotionalOfferId = promo;
  return result;
}

export function environmentOfReceiptType(receiptType: string): AppReceipt['environment'] {
  switch (receiptType) {
    case 'Production':
    case 'ProductionVPP':
      return 'Production';
    case 'ProductionSandbox':
    case 'ProductionVPPSandbox':
      return 'Sandbox';
    case 'Xcode':
      return 'Xcode';
    default:
      return undefined;
  }
}

/** Decodes the signed content of an app receipt. Does not verify anything. */
export function decodeReceiptPayload(bytes: Uint8Array): AppReceipt {
  const attributes = readAttributeSet(bytes, 'receipt payload');
  const fields = byType(attributes);
  const str = (type: number, name: string) => {
    const a = fields.get(type);
    return a === undefined ? undefined : asString(a, name);
  };
  const receipt: AppReceipt = {
    bundleId: required(str(APP.bundleId, 'bundle id'), 'a bundle id'),
    applicationVersion: required(str(APP.applicationVersion, 'application version'), 'an application version'),
    receiptCreationDate: required(
      fields.has(APP.receiptCreationDate) ? asDate(fields.get(APP.receiptCreationDate)!, 'creation date') : undefined,
      'a creation date',
    ),
    inApp: attributes.filter((a) => a.type === APP.inApp).map((a, i) => readInApp(a.value, i)),
  };
  const original = str(APP.originalApplicationVersion, 'original application version');
  if (original !== undefined) receipt.originalApplicationVersion = original;
  const expiration = fields.get(APP.receiptExpirationDate);
  const expirationDate = expiration === undefined ? undefined : asDate(expiration, 'expiration date');
  if (expirationDate !== undefined) receipt.receiptExpirationDate = expirationDate;
  const receiptType = str(APP.receiptType, 'receipt type');
  if (receiptType !== undefined) {
    receipt.receiptType = receiptType;
    const environment = environmentOfReceiptType(receiptType);
    if (environment !== undefined) receipt.environment = environment;
  }
  return receipt;
}
