import { apiNotConfigured } from '../app-store-errors.js';
import { type AppReceipt, parseAppReceipt } from '../apple/receipt/index.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { badRequest } from '../errors.js';
import type { AppStoreSync, PurchaseRef } from '../purchases/app-store-sync.usecase.js';
import { assertNotFutureDated } from '../purchases/future-dated.model.js';
import { type LinkedPurchase, linkAndApply } from '../users/link-and-apply.js';
import type { UsersRepository } from '../users/users.repository.js';

export type { LinkedPurchase } from '../users/link-and-apply.js';

export interface ReceiptsDeps {
  config: Config;
  db: Database;
  sync: AppStoreSync;
  clock: Clock;
  users: UsersRepository;
  /** DER roots an app receipt must chain to: Apple Inc. Root, loaded once. */
  receiptRootCertificates: () => Promise<Uint8Array[]>;
}

async function openReceipt(deps: ReceiptsDeps, receipt: string): Promise<AppReceipt> {
  // A bundled root that fails to load is the server's fault, not the receipt's: no coded
  // error (its ReceiptError would read as a refusal of the receipt), so an internal error.
  const rootCertificates = await deps.receiptRootCertificates().catch((error: unknown) => {
    throw new Error('the bundled Apple Inc. root certificate could not be loaded', { cause: error });
  });
  // A ReceiptError is a coded refusal of the receipt, answered with its own code.
  const parsed: AppReceipt = await parseAppReceipt(receipt, { rootCertificates });
  if (parsed.bundleId !== deps.config.apple.bundleId) {
    throw badRequest('WRONG_BUNDLE_ID', `The receipt is for bundle "${parsed.bundleId}", not ${deps.config.apple.bundleId}`);
  }
  return parsed;
}

function receiptEnvironment(config: Config, receipt: AppReceipt): 'Production' | 'Sandbox' {
  const environment = receipt.environment;
  if (environment !== 'Production' && environment !== 'Sandbox') {
    // Xcode (StoreKit testing) receipts name purchases the App Store never saw.
    throw badRequest(
      'UNSUPPORTED_RECEIPT_ENVIRONMENT',
      `A receipt of type "${receipt.receiptType ?? 'unknown'}" cannot be looked up through the App Store Server API`,
    );
  }
  if (!config.apple.environments.includes(environment)) {
    throw badRequest('WRONG_ENVIRONMENT', `The receipt is from ${environment}, which APPLE_ENVIRONMENTS does not accept`);
  }
  return environment;
}

/** One look-up per purchase: by its latest transaction, as a subscription when any of them expires. */
export function purchaseRefsOfReceipt(receipt: AppReceipt): PurchaseRef[] {
  const refs = new Map<string, PurchaseRef & { purchaseDate: number }>();
  for (const item of receipt.inApp) {
    const known = refs.get(item.originalTransactionId);
    const subscription = item.expiresDate !== undefined || known?.subscription === true;
    if (known === undefined || item.purchaseDate > known.purchaseDate) {
      refs.set(item.originalTransactionId, {
        originalTransactionId: item.originalTransactionId,
        transactionId: item.transactionId,
        purchaseDate: item.purchaseDate,
        subscription,
      });
    } else {
      known.subscription = subscription;
    }
  }
  return [...refs.values()].map(({ purchaseDate: _purchaseDate, ...ref }) => ref).sort((a, b) => (a.originalTransactionId < b.originalTransactionId ? -1 : 1));
}

/**
 * Links the user to every purchase in a StoreKit 1 app receipt. Trust: the receipt's
 * PKCS#7 signature must chain to Apple Inc. Root, but only the transaction ids are taken
 * from it; what is stored comes signed from the App Store Server API (Apple's migration
 * path from receipts to the Server API), so a receipt cannot assert any purchase state.
 */
export async function linkReceipt(deps: ReceiptsDeps, userId: string, receipt: string): Promise<LinkedPurchase[]> {
  if (!deps.sync.connected) throw apiNotConfigured();
  const parsed = await openReceipt(deps, receipt);
  const environment = receiptEnvironment(deps.config, parsed);
  const refs = purchaseRefsOfReceipt(parsed);
  const updates = await deps.sync.updatesOf(environment, refs);
  assertNotFutureDated(updates, deps.clock());
  const purchases = refs.map((ref) => ref.originalTransactionId);
  return linkAndApply({ ...deps, transferPolicy: deps.config.transferPolicy }, { userId, purchases, reason: 'receipt', updates });
}

export interface ReceiptsUsecase {
  linkReceipt(userId: string, receipt: string): Promise<LinkedPurchase[]>;
}

export function createReceiptsUsecase(deps: ReceiptsDeps): ReceiptsUsecase {
  return { linkReceipt: (userId, receipt) => linkReceipt(deps, userId, receipt) };
}
