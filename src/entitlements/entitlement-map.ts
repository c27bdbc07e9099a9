/**
 * Which entitlements a product grants. Without ENTITLEMENTS_FILE each product id is
 * its own entitlement; a product the file does not name still counts under its own id.
 */
export interface EntitlementMap {
  entitlementsFor(productId: string): string[];
}

export class EntitlementsFileError extends Error {
  readonly code = 'INVALID_ENTITLEMENTS_FILE';
  constructor(message: string) {
    super(message);
    this.name = 'EntitlementsFileError';
  }
}

export const identityEntitlementMap: EntitlementMap = {
  entitlementsFor: (productId) => [productId],
};

/** Parses `{"entitlements": {"pro": ["product", ...]}}`; every problem names where it is. */
export function parseEntitlementsFile(text: string, source = 'ENTITLEMENTS_FILE'): EntitlementMap {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EntitlementsFileError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EntitlementsFileError(`${source} must be a JSON object with an "entitlements" key`);
  }
  const entitlements = (parsed as { entitlements?: unknown }).entitlements;
  if (typeof entitlements !== 'object' || entitlements === null || Array.isArray(entitlements)) {
    throw new EntitlementsFileError(`${source}: "entitlements" must be an object of entitlement id to product ids`);
  }
  const byProduct = new Map<string, string[]>();
  for (const [entitlement, products] of Object.entries(entitlements)) {
    if (entitlement.trim() === '') throw new EntitlementsFileError(`${source}: an entitlement id is empty`);
    if (!Array.isArray(products) || products.length === 0) {
      throw new EntitlementsFileError(`${source}: entitlement "${entitlement}" must list at least one product id`);
    }
    for (const product of products) {
      if (typeof product !== 'string' || product.trim() === '') {
        throw new EntitlementsFileError(`${source}: entitlement "${entitlement}" has a product id that is not a non-empty string`);
      }
      const list = byProduct.get(product) ?? [];
      if (!list.includes(entitlement)) list.push(entitlement);
      byProduct.set(product, list);
    }
  }
  return {
    entitlementsFor: (productId) => byProduct.get(productId) ?? [productId],
  };
}
