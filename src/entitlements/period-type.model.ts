// Which kind of period a transaction is, from Apple's offer fields (SPEC's `periodType`).

export const PERIOD_TYPES = ['trial', 'intro', 'promotional', 'offer_code', 'win_back', 'normal'] as const;
export type PeriodType = (typeof PERIOD_TYPES)[number];

/** Apple's offerType values. */
const INTRODUCTORY = 1;
const PROMOTIONAL = 2;
const OFFER_CODE = 3;
const WIN_BACK = 4;

/**
 * A free introductory offer is a trial; any other introductory offer (pay as you go, pay
 * up front, or one Apple signed before it sent offerDiscountType) is `intro`. Promotional
 * offers, offer codes and win-back offers keep their kind even when they are free, as
 * the app's own offer, not Apple's trial, is what the customer took. An offer type Apple
 * adds later is none of these: `null` (unknown) rather than a wrong guess.
 */
export function periodTypeOf(offerType: number | null, offerDiscountType: string | null): PeriodType | null {
  switch (offerType) {
    case null:
      return 'normal';
    case INTRODUCTORY:
      return offerDiscountType === 'FREE_TRIAL' ? 'trial' : 'intro';
    case PROMOTIONAL:
      return 'promotional';
    case OFFER_CODE:
      return 'offer_code';
    case WIN_BACK:
      return 'win_back';
    default:
      return null;
  }
}
