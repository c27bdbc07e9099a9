import { PRODUCT_TYPE, PRODUCT_TYPES, type ProductType } from '../apple/types.js';
import { CodedError } from '../errors.js';
import { type IsoDuration, parseIsoDuration } from './iso-duration.js';

/**
 * The product catalog (ENTITLEMENTS_FILE, SPEC "Product catalog"): which entitlements a
 * product grants, and what Apple does not always say about a product — its type (V1
 * data carries none) and how long a non-renewing subscription lasts. Without the file
 * each product id is its own entitlement and nothing else is known.
 */
export interface EntitlementMap {
  /** A product the catalog does not name still counts under its own id. */
  entitlementsFor(productId: string): string[];
  /** `products.<id>.type`, or null when the catalog does not give one. */
  productTypeOf(productId: string): ProductType | null;
  /** `products.<id>.duration` (a non-renewing subscription's length), or null. */
  durationOf(productId: string): IsoDuration | null;
  /**
   * Buyers of the app itself before `beforeVersion` hold `entitlement` (SPEC). Parsed and
   * validated here (start-up stops naming ENTITLEMENTS_FILE); applied by sources.model.ts
   * to the user's verified AppTransaction.
   */
  readonly appPurchase: AppPurchaseRule | null;
}

export interface AppPurchaseRule {
  entitlement: string;
  /** Dot-separated numbers, compared part by part (1.10 is after 1.9). */
  beforeVersion: string;
}

export class EntitlementsFileError extends CodedError {
  constructor(message: string) {
    super('INVALID_ENTITLEMENTS_FILE', message);
  }
}

export const identityEntitlementMap: EntitlementMap = {
  entitlementsFor: (productId) => [productId],
  productTypeOf: () => null,
  durationOf: () => null,
  appPurchase: null,
};

interface ProductTerms {
  type: ProductType | null;
  duration: IsoDuration | null;
}

const KNOWN_TYPES: readonly string[] = PRODUCT_TYPES;
const NON_RENEWING: ProductType = PRODUCT_TYPE.nonRenewing;
const VERSION = /^\d+(\.\d+)*$/;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

// A misspelt key would silently do nothing (a season pass granting access for life), so
// every key the catalog does not define is an error.
function onlyKeys(value: Record<string, unknown>, allowed: readonly string[], where: string, fail: (m: string) => never): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) fail(`${where} has an unknown key "${key}" (allowed: ${allowed.join(', ')})`);
  }
}

function parseEntitlements(entitlements: unknown, fail: (m: string) => never): Map<string, string[]> {
  if (!isObject(entitlements)) fail('"entitlements" must be an object of entitlement id to product ids');
  const byProduct = new Map<string, string[]>();
  for (const [entitlement, products] of Object.entries(entitlements)) {
    if (entitlement.trim() === '') fail('an entitlement id is empty');
    if (!Array.isArray(products) || products.length === 0) fail(`entitlement "${entitlement}" must list at least one product id`);
    for (const product of products) {
      if (typeof product !== 'string' || product.trim() === '') {
        fail(`entitlement "${entitlement}" has a product id that is not a non-empty string`);
      }
      const list = byProduct.get(product) ?? [];
      if (!list.includes(entitlement)) list.push(entitlement);
      byProduct.set(product, list);
    }
  }
  return byProduct;
}

function parseProducts(products: unknown, fail: (m: string) => never): Map<string, ProductTerms> {
  const terms = new Map<string, ProductTerms>();
  if (products === undefined) return terms;
  if (!isObject(products)) fail('"products" must be an object of product id to {type, duration}');
  for (const [productId, entry] of Object.entries(products)) {
    const where = `products."${productId}"`;
    if (productId.trim() === '') fail('"products" has an empty product id');
    if (!isObject(entry)) fail(`${where} must be an object with "type" and/or "duration"`);
    onlyKeys(entry, ['type', 'duration'], where, fail);
    const { type, duration } = entry;
    if (type !== undefined && (typeof type !== 'string' || !KNOWN_TYPES.includes(type))) {
      fail(`${where}.type must be one of ${PRODUCT_TYPES.map((t) => `"${t}"`).join(', ')}`);
    }
    let parsedDuration: IsoDuration | null = null;
    if (duration !== undefined) {
      parsedDuration = typeof duration === 'string' ? parseIsoDuration(duration) : null;
      if (parsedDuration === null) fail(`${where}.duration must be a positive ISO 8601 duration such as "P1M", "P1Y", "P7D" or "PT1H"`);
      if (type !== undefined && type !== NON_RENEWING) fail(`${where}.duration applies only to a "${NON_RENEWING}", not a "${String(type)}"`);
    }
    terms.set(productId, { type: (type as ProductType | undefined) ?? null, duration: parsedDuration });
  }
  return terms;
}

function parseAppPurchase(appPurchase: unknown, fail: (m: string) => never): AppPurchaseRule | null {
  if (appPurchase === undefined) return null;
  if (!isObject(appPurchase)) fail('"appPurchase" must be an object with "entitlement" and "beforeVersion"');
  onlyKeys(appPurchase, ['entitlement', 'beforeVersion'], 'appPurchase', fail);
  const { entitlement, beforeVersion } = appPurchase;
  if (typeof entitlement !== 'string' || entitlement.trim() === '') fail('appPurchase.entitlement must be a non-empty string');
  if (typeof beforeVersion !== 'string' || !VERSION.test(beforeVersion)) {
    fail('appPurchase.beforeVersion must be an app version of dot-separated numbers such as "2.0"');
  }
  return { entitlement, beforeVersion };
}

/** Parses the catalog file; every problem names the field it is in. */
export function parseEntitlementsFile(text: string, source = 'ENTITLEMENTS_FILE'): EntitlementMap {
  const fail = (message: string): never => {
    throw new EntitlementsFileError(`${source}: ${message}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EntitlementsFileError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed)) throw new EntitlementsFileError(`${source} must be a JSON object with an "entitlements" key`);
  onlyKeys(parsed, ['entitlements', 'products', 'appPurchase'], 'the catalog', fail);
  const byProduct = parseEntitlements(parsed.entitlements, fail);
  const products = parseProducts(parsed.products, fail);
  const appPurchase = parseAppPurchase(parsed.appPurchase, fail);
  return {
    entitlementsFor: (productId) => byProduct.get(productId) ?? [productId],
    productTypeOf: (productId) => products.get(productId)?.type ?? null,
    durationOf: (productId) => products.get(productId)?.duration ?? null,
    appPurchase,
  };
}
