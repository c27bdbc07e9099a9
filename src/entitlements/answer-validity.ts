import { PRODUCT_TYPE } from '../apple/types.js';
import type { UserRecords } from './entitlements.repository.js';
import { addIsoDuration, type IsoDuration } from './iso-duration.js';
import { BILLING_RETRY_MAX_MS } from './state.model.js';

// How long an answer computed from one user's records stays the answer. The clock enters
// the evaluation (state.model.ts, entitlements.model.ts, sources.model.ts) only through
// comparisons of the form `now < X`, where X is one of the records' instants (a period's
// end, a grace period's end, a grant's end), a non-renewing subscription's end from the
// catalog, or such an instant plus BILLING_RETRY_MAX_MS (billing retry given up). Every
// comparison flips exactly at its X, so between two consecutive such instants every one
// of them, and with them the whole answer, stays as it was: an answer computed at `now`
// holds for every instant of [the last X <= now, the first X > now).
//
// The instants taken are a superset: every date anywhere in the records (creation and
// signing dates included, which never meet the clock), each also plus BILLING_RETRY_MAX_MS,
// and the catalog's ends. A superset only makes the intervals shorter (the answer is then
// computed again, with the same result); a missing instant would serve an answer past its
// change, so a new comparison with the clock in the evaluation must keep its X among these
// (test/entitlements/answer-validity.test.ts checks the answer at and around each one).

/** [from, until) in epoch milliseconds: the instants at which an answer stays the one computed at `now`. */
export interface Validity {
  from: number;
  until: number;
}

function eachDate(value: unknown, visit: (time: number) => void): void {
  if (value instanceof Date) {
    visit(value.getTime());
  } else if (Array.isArray(value)) {
    for (const item of value) eachDate(item, visit);
  } else if (value !== null && typeof value === 'object') {
    for (const key in value) eachDate((value as Record<string, unknown>)[key], visit);
  }
}

/** Every instant at which an answer from `records` may change (a superset; see above). */
export function answerChangeInstants(records: UserRecords, durationOf: (productId: string) => IsoDuration | null): number[] {
  const instants: number[] = [];
  const add = (time: number) => {
    if (Number.isNaN(time)) return;
    instants.push(time, time + BILLING_RETRY_MAX_MS);
  };
  eachDate(records, add);
  for (const purchase of records.purchases) {
    for (const t of purchase.transactions) {
      if (t.productType !== PRODUCT_TYPE.nonRenewing || t.expiresDate !== null) continue;
      const duration = durationOf(t.productId);
      if (duration !== null) add(addIsoDuration(t.purchaseDate, duration).getTime());
    }
  }
  return instants;
}

/** The interval around `now` in which no instant of `instants` lies except, possibly, its start. */
export function validityAt(instants: readonly number[], now: number): Validity {
  let from = -Infinity;
  let until = Infinity;
  for (const instant of instants) {
    if (instant <= now) {
      if (instant > from) from = instant;
    } else if (instant < until) {
      until = instant;
    }
  }
  return { from, until };
}
