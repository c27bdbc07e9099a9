import type { Clock } from '../clock.js';
import type { TransferPolicy } from '../config.js';
import type { Database } from '../db/client.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { applyPurchaseUpdates, lockPurchases } from '../purchases/purchases.repository.js';
import { type LinkOutcome, linkPurchase } from './purchase-links.repository.js';
import { assertTokensAllow } from './token-ownership.repository.js';
import type { UsersRepository } from './users.repository.js';

// The one "link and apply" transaction: a user claims purchases (by a posted or looked-up
// transaction, or by a receipt) and their signed state is applied, all or nothing.

export interface LinkAndApplyDeps {
  db: Database;
  users: UsersRepository;
  transferPolicy: TransferPolicy;
  clock: Clock;
}

export interface LinkAndApply {
  /** The user, the purchases (originalTransactionIds) to link, why, and the updates to apply with them. */
  userId: string;
  purchases: readonly string[];
  reason: 'transaction' | 'receipt';
  updates: readonly PurchaseUpdate[];
}

export interface LinkedPurchase {
  originalTransactionId: string;
  outcome: LinkOutcome;
}

/**
 * In one database transaction: the user is recorded, the purchases are locked, a purchase
 * carrying another user's token refuses the whole request (409) rather than linking it in
 * part, each purchase is linked under the transfer policy, then the updates are applied.
 * Linked before applied: the tokens were checked, so attribution by token then agrees with
 * the links.
 */
export async function linkAndApply(deps: LinkAndApplyDeps, request: LinkAndApply): Promise<LinkedPurchase[]> {
  const { userId, purchases, updates } = request;
  // Read before the transaction: the repository loads it through its own handle, which on
  // single-connection PGlite would wait forever behind the open transaction.
  const namespace = await deps.users.namespace();
  const at = deps.clock();
  return deps.db.transaction(async (tx) => {
    await deps.users.ensureUser(tx, userId, namespace);
    await lockPurchases(tx, [...purchases, ...purchasesOf(updates)]);
    const tokens = new Map<string, Array<string | null>>(purchases.map((id) => [id, []]));
    for (const update of updates) {
      for (const { record } of update.transactions) tokens.get(record.originalTransactionId)?.push(record.appAccountToken);
    }
    await assertTokensAllow(
      tx,
      userId,
      [...tokens].map(([originalTransactionId, list]) => ({ originalTransactionId, tokens: list })),
    );
    const linked: LinkedPurchase[] = [];
    for (const originalTransactionId of purchases) {
      const outcome = await linkPurchase(tx, { originalTransactionId, userId, policy: deps.transferPolicy, reason: request.reason, at });
      linked.push({ originalTransactionId, outcome });
    }
    await applyPurchaseUpdates(tx, updates, { now: at });
    return linked;
  });
}

/** Every purchase the updates touch. */
function purchasesOf(updates: readonly PurchaseUpdate[]): string[] {
  const ids: string[] = [];
  for (const update of updates) {
    for (const { record } of update.transactions) ids.push(record.originalTransactionId);
    if (update.renewal) ids.push(update.renewal.record.originalTransactionId);
    if (update.status) ids.push(update.status.originalTransactionId);
  }
  return ids;
}
