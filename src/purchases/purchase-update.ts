import type { StoredRenewal, StoredStatus, StoredTransaction } from './merge.model.js';

// Types only: what a purchase writer is given and what it answers. Kept apart from the
// repositories so the attribution repository (which purchases.repository calls) can name
// them without importing purchases.repository back.

// The signed evidence of a record is kept once: a JWS that arrived inside a notification
// stays in that notification's stored signedPayload and the record names the notification
// (`signedInNotification`); a JWS that came alone (the Server API, an app's POST) is
// stored with the record. Neither is read back on the write path.
export interface PurchaseUpdate {
  transactions: Array<{ record: StoredTransaction; signedTransaction: string | null; signedInNotification?: string }>;
  renewal?: { record: StoredRenewal; signedRenewalInfo: string | null; signedInNotification?: string } | undefined;
  status?: StoredStatus | undefined;
}

export interface ApplyResult {
  originalTransactionIds: string[];
  transactionsWritten: number;
  renewalWritten: boolean;
  statusWritten: boolean;
  /** originalTransactionId → user it was attributed to by appAccountToken during this update. */
  attributed: Map<string, string>;
}
