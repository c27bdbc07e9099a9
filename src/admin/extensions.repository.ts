import { eq } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { renewalExtensions, transactions } from '../db/schema.js';

export type NewRenewalExtension = typeof renewalExtensions.$inferInsert;

/** One extension request Apple answered, with who asked and Apple's answer. */
export async function recordExtension(executor: Executor, row: NewRenewalExtension): Promise<void> {
  await executor.insert(renewalExtensions).values(row);
}

/** The environment of a recorded purchase, or null when the service has not seen it. */
export async function environmentOfPurchase(executor: Executor, originalTransactionId: string): Promise<string | null> {
  const [row] = await executor
    .select({ environment: transactions.environment })
    .from(transactions)
    .where(eq(transactions.originalTransactionId, originalTransactionId))
    .limit(1);
  return row?.environment ?? null;
}
