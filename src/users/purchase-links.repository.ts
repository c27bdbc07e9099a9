import { eq } from 'drizzle-orm';
import type { TransferPolicy } from '../config.js';
import type { Executor } from '../db/client.js';
import { purchaseLinkEvents, purchaseLinks } from '../db/schema.js';
import { conflict } from '../errors.js';
import { notePurchases, noteUsers } from '../events/transaction-changes.js';

export interface LinkRequest {
  originalTransactionId: string;
  userId: string;
  policy: TransferPolicy;
  /** Why the link is made: 'transaction' (POST /users/:id/transactions), 'receipt', … */
  reason: string;
  at: Date;
}

export type LinkOutcome = 'linked' | 'unchanged' | 'transferred';

/**
 * Links a purchase to a user inside the caller's transaction, which must already hold
 * the purchase's lock (`lockPurchases`) so two users claiming it are served one at a time.
 * A purchase linked to someone else moves under `transfer` (recorded with both users and
 * the time) and is refused with 409 ALREADY_LINKED under `keep`.
 */
export async function linkPurchase(tx: Executor, request: LinkRequest): Promise<LinkOutcome> {
  const { originalTransactionId, userId, at } = request;
  const [existing] = await tx
    .select({ userId: purchaseLinks.userId })
    .from(purchaseLinks)
    .where(eq(purchaseLinks.originalTransactionId, originalTransactionId));
  if (existing?.userId === userId) return 'unchanged';
  notePurchases(tx, [originalTransactionId]);
  if (existing === undefined) {
    await tx.insert(purchaseLinks).values({ originalTransactionId, userId, linkSource: request.reason, linkedAt: at });
    await tx.insert(purchaseLinkEvents).values({ originalTransactionId, fromUserId: null, toUserId: userId, reason: request.reason, at });
    return 'linked';
  }
  if (request.policy === 'keep') {
    throw conflict('ALREADY_LINKED', `Purchase ${originalTransactionId} is already linked to another user`);
  }
  noteUsers(tx, [existing.userId]);
  await tx.update(purchaseLinks).set({ userId, linkSource: 'transfer', linkedAt: at }).where(eq(purchaseLinks.originalTransactionId, originalTransactionId));
  await tx.insert(purchaseLinkEvents).values({ originalTransactionId, fromUserId: existing.userId, toUserId: userId, reason: 'transfer', at });
  return 'transferred';
}
