import type { ConsumptionRequest } from '../apple/api/index.js';

// What to do with one of Apple's CONSUMPTION_REQUESTs, given the app backend's facts and the
// time. Pure: the sender (consumption.sender.ts) does the I/O around it.

/** Apple waits this long after its request for the consumption information. */
export const CONSUMPTION_DEADLINE_MS = 12 * 60 * 60 * 1000;

/** Apple's DeliveryStatus values (Send Consumption Information v2; Apple's library 3.x). */
export const DELIVERY_STATUSES = [
  'DELIVERED',
  'UNDELIVERED_QUALITY_ISSUE',
  'UNDELIVERED_WRONG_ITEM',
  'UNDELIVERED_SERVER_OUTAGE',
  'UNDELIVERED_OTHER',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** Apple's RefundPreference values (v2). */
export const REFUND_PREFERENCES = ['DECLINE', 'GRANT_FULL', 'GRANT_PRORATED'] as const;
export type RefundPreference = (typeof REFUND_PREFERENCES)[number];

/** consumptionPercentage is in milliunits: 100000 is 100 %. */
export const MAX_CONSUMPTION_PERCENTAGE = 100_000;

export type ConsumptionStatus = 'pending' | 'sent' | 'not_sent' | 'failed';
export const CONSUMPTION_STATUSES: readonly ConsumptionStatus[] = ['pending', 'sent', 'not_sent', 'failed'];

/** Why no answer went to Apple. */
export type NotSentReason = 'customer_did_not_consent' | 'expired' | 'api_not_configured' | 'no_app_store_environment' | 'apple_refused';

/** The app backend's facts, as PUT /transactions/:transactionId/consumption stores them. */
export interface ConsumptionFacts {
  customerConsented: boolean;
  sampleContentProvided: boolean;
  deliveryStatus: DeliveryStatus;
  consumptionPercentage: number | null;
  refundPreference: RefundPreference | null;
}

export interface PendingRequest {
  deadline: Date;
  environment: string | null;
}

export type Decision =
  | { kind: 'expire' }
  /** No facts yet: look again when they arrive, or at the deadline. */
  | { kind: 'wait'; until: Date }
  | { kind: 'not_sent'; reason: NotSentReason }
  | { kind: 'send'; environment: 'Production' | 'Sandbox'; body: ConsumptionRequest };

/** Apple's v2 body from the stored facts: optional fields only when given. */
export function consumptionBody(facts: ConsumptionFacts): ConsumptionRequest {
  const body: ConsumptionRequest = {
    customerConsented: facts.customerConsented,
    sampleContentProvided: facts.sampleContentProvided,
    deliveryStatus: facts.deliveryStatus,
  };
  if (facts.consumptionPercentage !== null) body.consumptionPercentage = facts.consumptionPercentage;
  if (facts.refundPreference !== null) body.refundPreference = facts.refundPreference;
  return body;
}

export function decide(request: PendingRequest, facts: ConsumptionFacts | null, now: Date, apiConfigured: boolean): Decision {
  if (now.getTime() >= request.deadline.getTime()) return { kind: 'expire' };
  if (facts === null) return { kind: 'wait', until: request.deadline };
  if (!facts.customerConsented) return { kind: 'not_sent', reason: 'customer_did_not_consent' };
  if (!apiConfigured) return { kind: 'not_sent', reason: 'api_not_configured' };
  // A request without an environment predates nothing we know of: Apple's default is Production.
  const environment = request.environment ?? 'Production';
  if (environment !== 'Production' && environment !== 'Sandbox') return { kind: 'not_sent', reason: 'no_app_store_environment' };
  return { kind: 'send', environment, body: consumptionBody(facts) };
}

/** After the n-th failed attempt (n ≥ 1): 30 s, 1 min, 2 min … at most 30 min. */
export function retryDelayMs(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 30 * 60_000);
}
