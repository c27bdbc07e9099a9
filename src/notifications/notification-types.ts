import type { NOTIFICATION_TYPES, NotificationTypeV2, Subtype } from '../apple/types.js';

type KnownNotificationType = (typeof NOTIFICATION_TYPES)[number];

// What the ingest does with each V2 notification type and subtype. Every notification is
// recorded (raw signedPayload kept) whatever this table says; `applies` names the stored
// records it also updates, from whatever of them the notification carries. Anything not
// listed is recorded only, so a replay after this table learns it can still apply it.

export type AppliedRecord = 'transaction' | 'renewal' | 'status';

export type NotificationHandling = { kind: 'applies'; applies: readonly AppliedRecord[]; effect: string } | { kind: 'recorded-only'; reason: string };

/** Key used in the table for a notification that has no subtype. */
export const NO_SUBTYPE = '(none)';

const ALL: readonly AppliedRecord[] = ['transaction', 'renewal', 'status'];
const all = (effect: string): NotificationHandling => ({ kind: 'applies', applies: ALL, effect });
const recorded = (reason: string): NotificationHandling => ({ kind: 'recorded-only', reason });

const ADVANCED_COMMERCE = 'Advanced Commerce API event; the service does not model those subscriptions';
const EXTERNAL_TOKEN = 'External Purchase API token; there is no App Store transaction to store';

export const NOTIFICATION_HANDLING = {
  CONSUMPTION_REQUEST: {
    [NO_SUBTYPE]: recorded(
      'a refund request: recorded with a consumption.requested event; the service answers Apple from the facts of PUT /transactions/:id/consumption (with consent, within 12 h); entitlements do not change',
    ),
  },
  DID_CHANGE_RENEWAL_PREF: {
    UPGRADE: all('upgrade takes effect now: new transaction on the higher product, the old one is marked upgraded'),
    DOWNGRADE: all('downgrade at the next renewal: autoRenewProductId changes, the current product stays until expiry'),
    [NO_SUBTYPE]: all('pending downgrade cancelled: autoRenewProductId is the current product again'),
  },
  DID_CHANGE_RENEWAL_STATUS: {
    AUTO_RENEW_ENABLED: all('auto-renew on: willRenew true'),
    AUTO_RENEW_DISABLED: all('auto-renew off: willRenew false, access continues until expiresDate'),
  },
  DID_FAIL_TO_RENEW: {
    GRACE_PERIOD: all('renewal failed, billing grace period: active until gracePeriodExpiresDate'),
    [NO_SUBTYPE]: all('renewal failed, billing retry without grace: not active'),
  },
  DID_RENEW: {
    [NO_SUBTYPE]: all('renewed: the new period is the current transaction'),
    BILLING_RECOVERY: all('renewed after failed billing: retry or grace ends, active again'),
  },
  EXPIRED: {
    VOLUNTARY: all('expired after auto-renew was turned off'),
    BILLING_RETRY: all('expired: billing retry ended without a renewal'),
    PRICE_INCREASE: all('expired: the customer did not consent to a price increase'),
    PRODUCT_NOT_FOR_SALE: all('expired: the product was not for sale at renewal'),
    [NO_SUBTYPE]: all('expired for another reason'),
  },
  EXTERNAL_PURCHASE_TOKEN: {
    UNREPORTED: recorded(EXTERNAL_TOKEN),
    CREATED: recorded(EXTERNAL_TOKEN),
    ACTIVE_TOKEN_REMINDER: recorded(EXTERNAL_TOKEN),
  },
  GRACE_PERIOD_EXPIRED: {
    [NO_SUBTYPE]: all('grace period over, Apple still retries billing: billing_retry, not active'),
  },
  METADATA_UPDATE: { [NO_SUBTYPE]: recorded(ADVANCED_COMMERCE) },
  MIGRATION: { [NO_SUBTYPE]: recorded(ADVANCED_COMMERCE) },
  OFFER_REDEEMED: {
    INITIAL_BUY: all('first purchase with an offer: the period starts'),
    RESUBSCRIBE: all('resubscribed with an offer: a new period starts'),
    UPGRADE: all('upgraded with an offer, effective now: new transaction on the higher product'),
    DOWNGRADE: all('downgraded with an offer at the next renewal: autoRenewProductId changes'),
    [NO_SUBTYPE]: all('offer redeemed on the active subscription: renewal info updated'),
  },
  ONE_TIME_CHARGE: {
    [NO_SUBTYPE]: {
      kind: 'applies',
      applies: ['transaction'],
      effect:
        'one-time purchase stored: a non-consumable grants access until revoked, a non-renewing subscription for its catalog duration (ENTITLEMENTS_FILE), a consumable nothing',
    },
  },
  PRICE_CHANGE: { [NO_SUBTYPE]: recorded(ADVANCED_COMMERCE) },
  PRICE_INCREASE: {
    PENDING: all('price increase awaiting consent: renewal info updated, access unchanged'),
    ACCEPTED: all('price increase accepted or notified: renewal info updated, access unchanged'),
  },
  REFUND: {
    [NO_SUBTYPE]: all('transaction refunded (revocationDate): ends access only when it is the current period'),
  },
  REFUND_DECLINED: {
    [NO_SUBTYPE]: recorded('the refund request was declined; the transaction is unchanged'),
  },
  REFUND_REVERSED: {
    [NO_SUBTYPE]: all('refund reversed: the newer signed transaction has no revocation, access is restored'),
  },
  RENEWAL_EXTENDED: {
    [NO_SUBTYPE]: all('renewal date extended: the transaction carries the new expiresDate'),
  },
  RENEWAL_EXTENSION: {
    SUMMARY: recorded('summary of a mass renewal extension (counts only); each extended subscription gets its own RENEWAL_EXTENDED'),
    FAILURE: all('extension failed for one subscription: records refreshed, expiresDate unchanged'),
  },
  RESCIND_CONSENT: {
    [NO_SUBTYPE]: recorded("a parent withdrew consent for a child's use of the app; it carries no purchase"),
  },
  REVOKE: {
    [NO_SUBTYPE]: all('Family Sharing access withdrawn: transaction revoked, status 5'),
  },
  SUBSCRIBED: {
    INITIAL_BUY: all('first purchase in the subscription group: the period starts'),
    RESUBSCRIBE: all('resubscribed after expiry: a new period starts (same or another product of the group)'),
  },
  TEST: {
    [NO_SUBTYPE]: recorded('test notification requested by the operator; it carries no purchase'),
  },
} as const satisfies Record<KnownNotificationType, Record<string, NotificationHandling>>;

/**
 * What a recorded-only notification still writes when it carries signed purchase data
 * (CONSUMPTION_REQUEST, REFUND_DECLINED, an unknown type with a transaction...): the
 * signed transaction and renewal info, never a status. They are Apple's own signed
 * snapshot at their signedDate and go through the same newer-wins merge, so they can
 * only bring a record up to date, never undo a newer one; and a purchase whose other
 * notifications were missed is still recorded. The status is left alone because what a
 * type Apple did not define for us says about the subscription as a whole is unknown.
 */
export const RECORDED_ONLY_KEEPS: readonly AppliedRecord[] = ['transaction', 'renewal'];

export type NotificationDescription = NotificationHandling & { known: boolean };

const UNKNOWN_TYPE: NotificationDescription = {
  kind: 'recorded-only',
  reason: 'unknown notification type, recorded',
  known: false,
};
const UNKNOWN_SUBTYPE: NotificationDescription = {
  kind: 'recorded-only',
  reason: 'unknown subtype, recorded',
  known: false,
};

/**
 * The handling of a notification. Never throws: a type or subtype Apple adds later is
 * recorded only, and the webhook still answers 200.
 */
export function describeNotification(type: NotificationTypeV2, subtype?: Subtype | null): NotificationDescription {
  if (typeof type !== 'string' || !Object.hasOwn(NOTIFICATION_HANDLING, type)) return UNKNOWN_TYPE;
  const subtypes: Record<string, NotificationHandling> = NOTIFICATION_HANDLING[type as keyof typeof NOTIFICATION_HANDLING];
  const key = typeof subtype === 'string' && subtype !== '' ? subtype : NO_SUBTYPE;
  if (!Object.hasOwn(subtypes, key)) return UNKNOWN_SUBTYPE;
  const handling = subtypes[key];
  return handling === undefined ? UNKNOWN_SUBTYPE : { ...handling, known: true };
}

/** The table as Markdown, as docs/notification-types.md shows it. */
export function renderNotificationTable(): string {
  const rows = ['| type | subtype | handling | what happens |', '|---|---|---|---|'];
  for (const [type, subtypes] of Object.entries(NOTIFICATION_HANDLING)) {
    for (const [subtype, handling] of Object.entries(subtypes as Record<string, NotificationHandling>)) {
      const what = handling.kind === 'applies' ? `applies ${handling.applies.join(', ')}` : 'recorded only';
      const why = handling.kind === 'applies' ? handling.effect : handling.reason;
      rows.push(`| \`${type}\` | ${subtype === NO_SUBTYPE ? '—' : `\`${subtype}\``} | ${what} | ${why} |`);
    }
  }
  return `${rows.join('\n')}\n`;
}
