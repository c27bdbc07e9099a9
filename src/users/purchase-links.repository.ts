import { and, eq, inArray, ne } from 'drizzle-orm';
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

/**
 * The purchases among `originalTransactionIds` linked to a user other than `userId`,
 * sorted: what TRANSFER_POLICY=keep refuses. Read inside the caller's transaction, after
 * the purchases' locks, so the answer holds until commit.
 */
export async function purchasesLinkedToOthers(tx: Executor, originalTransactionIds: readonly string[], userId: string): Promise<string[]> {
  if (originalTransactionIds.length === 0) return [];
  const rows = await tx
    .select({ originalTransactionId: purchaseLinks.originalTransactionId })
    .from(purchaseLinks)
    .where(and(inArray(purchaseLinks.originalTransactionId, [...originalTransactionIds]), ne(purchaseLinks.userId, userId)));
  return rows.map((row) => row.originalTransactionId).sort();
}

/** The user each of the purchases is linked to (those linked to nobody are absent). */
export async function linkedUsersOf(db: Executor, originalTransactionIds: readonly string[]): Promise<Map<string, string>> {
  if (originalTransactionIds.length === 0) return new Map();
  const rows = await db
    .select({ originalTransactionId: purchaseLinks.originalTransactionId, userId: purchaseLinks.userId })
    .from(purchaseLinks)
    .where(inArray(purchaseLinks.originalTransactionId, [...new Set(originalTransactionIds)]));
  return new Map(rows.map((row) => [row.originalTransactionId, row.userId]));
}
