import type { Clock } from '../clock.js';
import type { TransferPolicy } from '../config.js';
import type { Database } from '../db/client.js';
import { conflict } from '../errors.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { applyPurchaseUpdates, lockPurchases } from '../purchases/purchases.repository.js';
import { appAccountTokenOf } from './app-account-token.model.js';
import { type LinkOutcome, linkPurchase, purchasesLinkedToOthers } from './purchase-links.repository.js';
import { assertTokensAllow } from './token-ownership.repository.js';
import { recordTokenUpdates, type TokenUpdateRequest } from './token-updates.repository.js';
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
  reason: 'transaction' | 'receipt' | 'restore';
  updates: readonly PurchaseUpdate[];
  /**
   * Record a Set App Account Token request (sent after commit) for each linked purchase
   * whose signed data here carries no token, so Apple signs the user's token into it from
   * now on. Only with App Store Server API credentials.
   */
  setMissingTokens?: boolean;
}

export interface LinkedPurchase {
  originalTransactionId: string;
  outcome: LinkOutcome;
  /** A Set App Account Token request was recorded for it (send it after commit). */
  tokenUpdate: boolean;
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
    const token = await deps.users.ensureUser(tx, userId, namespace);
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
    if (deps.transferPolicy === 'keep') {
      // Every refusal named at once (a restore may meet several), and nothing linked.
      const refused = await purchasesLinkedToOthers(tx, purchases, userId);
      if (refused.length > 0) {
        throw conflict('ALREADY_LINKED', `${refused.length === 1 ? 'Purchase' : 'Purchases'} ${refused.join(', ')} already linked to another user`, {
          transactions: refused,
        });
      }
    }
    const tokenUpdates = request.setMissingTokens ? purchasesWithoutToken(purchases, updates, userId, token) : new Map<string, TokenUpdateRequest>();
    const linked: LinkedPurchase[] = [];
    for (const originalTransactionId of purchases) {
      const outcome = await linkPurchase(tx, { originalTransactionId, userId, policy: deps.transferPolicy, reason: request.reason, at });
      linked.push({ originalTransactionId, outcome, tokenUpdate: tokenUpdates.has(originalTransactionId) });
    }
    await applyPurchaseUpdates(tx, updates, { now: at });
    await recordTokenUpdates(tx, [...tokenUpdates.values()], at);
    return linked;
  });
}

/**
 * The purchases whose signed transactions here all lack a token (absent, or the Nil UUID),
 * in an environment Apple's servers know. A purchase carrying a token needs nothing: the
 * token check above made sure it is this user's.
 */
function purchasesWithoutToken(purchases: readonly string[], updates: readonly PurchaseUpdate[], userId: string, appAccountToken: string) {
  const wanted = new Set(purchases);
  const found = new Map<string, TokenUpdateRequest>();
  const carryToken = new Set<string>();
  for (const update of updates) {
    for (const { record } of update.transactions) {
      const id = record.originalTransactionId;
      if (!wanted.has(id)) continue;
      if (appAccountTokenOf(record.appAccountToken) !== null) carryToken.add(id);
      else if (record.environment === 'Production' || record.environment === 'Sandbox') {
        const environment = record.environment === 'Production' ? 'Production' : 'Sandbox';
        found.set(id, { originalTransactionId: id, environment, userId, appAccountToken });
      }
    }
  }
  for (const id of carryToken) found.delete(id);
  return found;
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
