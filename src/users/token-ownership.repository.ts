import { and, inArray, isNotNull } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { transactions, users } from '../db/schema.js';
import { conflict } from '../errors.js';
import { appAccountTokenOf } from './app-account-token.model.js';

export interface PurchaseTokens {
  originalTransactionId: string;
  /** Tokens on the signed data about to be recorded (stored transactions are read here). */
  tokens: ReadonlyArray<string | null>;
}

/**
 * A purchase whose signed data carries an appAccountToken belongs to that token's user:
 * the user holding the token, or, while nobody holds it, the user whose id is the token
 * (attribution creates that user). Linking it to anyone else is refused with 409
 * TOKEN_BELONGS_TO_OTHER_USER whatever TRANSFER_POLICY says, so nobody can take a purchase
 * by posting its transaction. Runs inside the caller's transaction, after the purchases'
 * locks, so the stored transactions it reads cannot change before the link is written.
 */
export async function assertTokensAllow(tx: Executor, userId: string, purchases: readonly PurchaseTokens[]): Promise<void> {
  if (purchases.length === 0) return;
  const byPurchase = new Map<string, Set<string>>();
  const add = (originalTransactionId: string, value: string | null) => {
    const token = appAccountTokenOf(value);
    if (token === null) return;
    const set = byPurchase.get(originalTransactionId) ?? new Set<string>();
    set.add(token);
    byPurchase.set(originalTransactionId, set);
  };
  for (const purchase of purchases) for (const token of purchase.tokens) add(purchase.originalTransactionId, token);
  const stored = await tx
    .selectDistinct({ originalTransactionId: transactions.originalTransactionId, token: transactions.appAccountToken })
    .from(transactions)
    .where(
      and(
        inArray(
          transactions.originalTransactionId,
          purchases.map((p) => p.originalTransactionId),
        ),
        isNotNull(transactions.appAccountToken),
      ),
    );
  for (const row of stored) add(row.originalTransactionId, row.token);
  if (byPurchase.size === 0) return;

  const tokens = [...new Set([...byPurchase.values()].flatMap((set) => [...set]))];
  const holders = await tx.select({ userId: users.userId, token: users.appAccountToken }).from(users).where(inArray(users.appAccountToken, tokens));
  const ownerOf = new Map(holders.map((row) => [row.token.toLowerCase(), row.userId]));
  for (const [originalTransactionId, set] of [...byPurchase].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const token of set) {
      if ((ownerOf.get(token) ?? token) !== userId) {
        throw conflict('TOKEN_BELONGS_TO_OTHER_USER', `Purchase ${originalTransactionId} carries the app account token of another user`);
      }
    }
  }
}
