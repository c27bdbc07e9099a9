import type { App, AppDeps } from '../app.js';
import { loadAppleIncRootCertificate } from '../apple/receipt/index.js';
import { createVerifyReceiptClient } from '../apple/verify-receipt/index.js';
import { entitlementsFromDeps } from '../entitlements/app-backend.js';
import { warnOncePerProduct } from '../entitlements/product-warnings.js';
import { createUsersRepository } from '../users/users.repository.js';
import { receiptsRoutes } from './receipts.routes.js';
import { v1WebhookRoutes } from './v1-webhook.routes.js';

/** Wires and registers the legacy (StoreKit 1) routes: POST /webhooks/apple/v1 and POST /users/:userId/receipts. */
export async function registerLegacyRoutes(app: App, deps: AppDeps): Promise<void> {
  const { config } = deps;
  const db = deps.database.db;
  const secret = config.apple.sharedSecret;
  const verifyReceipt =
    deps.verifyReceipt !== undefined
      ? deps.verifyReceipt
      : secret === null
        ? null
        : createVerifyReceiptClient({ sharedSecret: secret, ...(config.apple.verifyReceiptUrl ? { overrideUrl: config.apple.verifyReceiptUrl } : {}) });
  const catalog = deps.entitlementMap;
  const productTypes = {
    productTypeOf: (productId: string) => catalog.productTypeOf(productId),
    onUnlistedProduct: warnOncePerProduct(
      deps.logger,
      'a V1 purchase without an expiry names a product ENTITLEMENTS_FILE does not list (products.<id>.type): taken as a Non-Consumable',
    ),
  };
  await app.register(v1WebhookRoutes, {
    config,
    database: deps.database,
    verifier: deps.verifier,
    appStoreApi: deps.appStoreApi,
    verifyReceipt,
    productTypes,
    clock: deps.clock,
    logger: deps.logger,
    events: deps.events,
  });

  // Loaded on first use, once: the endpoint is rare and start-up should not depend on it.
  let roots: Promise<Uint8Array[]> | null = deps.receiptRootCertificates ? Promise.resolve(deps.receiptRootCertificates) : null;
  const receiptRootCertificates = () => {
    roots ??= loadAppleIncRootCertificate().then((der) => [der]);
    return roots;
  };
  const entitlements = entitlementsFromDeps(deps);
  await app.register(receiptsRoutes, {
    config,
    db,
    verifier: deps.verifier,
    appStoreApi: deps.appStoreApi,
    clock: deps.clock,
    users: createUsersRepository({ db }),
    receiptRootCertificates,
    // Stored data only: the receipt's purchases were just fetched from the App Store.
    entitlementsOf: async (userId) => (await entitlements.entitlementsOf(userId, { refresh: 'never' })).entitlements,
  });
}
