// The V1 (unsigned, JSON) App Store Server Notification and the unified receipt it carries,
// field for field as Apple sends them: dates as millisecond strings, flags as strings.
// Fields Apple documents but this service does not read are still typed so callers can.

/**
 * Apple documents `PROD` or `Sandbox` for V1 bodies; `Production` also occurs in captured
 * bodies (it is what the unified receipt inside says) and means the same.
 */
export type V1Environment = 'PROD' | 'Sandbox' | 'Production';

export interface V1LatestReceiptInfo {
  transaction_id: string;
  original_transaction_id: string;
  product_id: string;
  purchase_date_ms: string;
  purchase_date?: string;
  purchase_date_pst?: string;
  original_purchase_date_ms?: string;
  original_purchase_date?: string;
  original_purchase_date_pst?: string;
  expires_date_ms?: string;
  expires_date?: string;
  expires_date_pst?: string;
  cancellation_date_ms?: string;
  cancellation_date?: string;
  cancellation_date_pst?: string;
  /** "1": the customer cancelled for an issue in the app; "0": another reason. */
  cancellation_reason?: string;
  quantity?: string;
  web_order_line_item_id?: string;
  subscription_group_identifier?: string;
  in_app_ownership_type?: string;
  is_trial_period?: string;
  is_in_intro_offer_period?: string;
  is_upgraded?: string;
  promotional_offer_id?: string;
  offer_code_ref_name?: string;
  app_account_token?: string;
  [extra: string]: unknown;
}

export interface V1PendingRenewalInfo {
  original_transaction_id: string;
  product_id: string;
  auto_renew_product_id?: string;
  /** "1" will renew, "0" will not. */
  auto_renew_status?: string;
  expiration_intent?: string;
  is_in_billing_retry_period?: string;
  grace_period_expires_date_ms?: string;
  grace_period_expires_date?: string;
  grace_period_expires_date_pst?: string;
  price_consent_status?: string;
  price_increase_status?: string;
  promotional_offer_id?: string;
  offer_code_ref_name?: string;
  [extra: string]: unknown;
}

export interface V1UnifiedReceipt {
  status: number;
  environment?: 'Production' | 'Sandbox' | (string & {});
  latest_receipt?: string;
  latest_receipt_info: V1LatestReceiptInfo[];
  pending_renewal_info: V1PendingRenewalInfo[];
  [extra: string]: unknown;
}

export interface V1Notification {
  notification_type: V1NotificationType;
  password: string;
  environment: V1Environment;
  bid: string;
  bvrs?: string;
  /** "true" / "false". */
  auto_renew_status?: string;
  auto_renew_product_id?: string;
  auto_renew_status_change_date_ms?: string;
  auto_renew_status_change_date?: string;
  auto_renew_status_change_date_pst?: string;
  original_transaction_id?: string;
  cancellation_date_ms?: string;
  web_order_line_item_id?: string;
  unified_receipt: V1UnifiedReceipt;
  [extra: string]: unknown;
}

export const V1_NOTIFICATION_TYPES = [
  'INITIAL_BUY',
  'DID_RENEW',
  'DID_RECOVER',
  'INTERACTIVE_RENEWAL',
  'DID_CHANGE_RENEWAL_PREF',
  'DID_CHANGE_RENEWAL_STATUS',
  'DID_FAIL_TO_RENEW',
  'CANCEL',
  'REFUND',
  'REVOKE',
  'CONSUMPTION_REQUEST',
  'PRICE_INCREASE_CONSENT',
] as const;
export type V1NotificationType = (typeof V1_NOTIFICATION_TYPES)[number];
