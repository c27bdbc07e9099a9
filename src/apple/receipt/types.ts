/** Receipt types Apple writes in attribute 0; anything else passes through as written. */
export type ReceiptType = 'Production' | 'ProductionSandbox' | 'ProductionVPP' | 'ProductionVPPSandbox' | 'Xcode' | (string & {});

export interface AppReceiptInApp {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  quantity?: number;
  /** Milliseconds since the epoch, like the decoded V2 payloads. */
  purchaseDate: number;
  originalPurchaseDate?: number;
  expiresDate?: number;
  cancellationDate?: number;
  webOrderLineItemId?: string;
  isTrialPeriod?: boolean;
  isInIntroOfferPeriod?: boolean;
  promotionalOfferId?: string;
}

export interface AppReceipt {
  bundleId: string;
  applicationVersion: string;
  originalApplicationVersion?: string;
  /** Milliseconds since the epoch. */
  receiptCreationDate: number;
  receiptExpirationDate?: number;
  receiptType?: ReceiptType;
  /** Mapped from `receiptType`: the environment the App Store Server API knows it under. */
  environment?: 'Production' | 'Sandbox' | 'Xcode';
  inApp: AppReceiptInApp[];
}
