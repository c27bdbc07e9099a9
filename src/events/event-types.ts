import type { EntitlementView } from '../entitlements/entitlements.model.js';

// The events of SPEC.md "Events to the app backend": their type names and `data` shapes.

export const EVENT_TYPES = ['entitlements.updated', 'notification.received', 'consumption.requested'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EntitlementsUpdatedData {
  userId: string;
  entitlements: EntitlementView[];
  /** The answer last recorded for the user; `[]` for a user seen for the first time. */
  previous: EntitlementView[];
}

export interface NotificationReceivedData {
  notificationUUID: string;
  notificationType: string;
  subtype: string | null;
  environment: string | null;
  signedDate: string | null;
  userId: string | null;
  transactionId: string | null;
  originalTransactionId: string | null;
  productId: string | null;
}

export interface ConsumptionRequestedData {
  userId: string | null;
  transactionId: string | null;
  productId: string | null;
  /** When Apple stops waiting for the answer: 12 hours after its request. */
  deadline: string;
}

export type EventData =
  | { type: 'entitlements.updated'; data: EntitlementsUpdatedData }
  | { type: 'notification.received'; data: NotificationReceivedData }
  | { type: 'consumption.requested'; data: ConsumptionRequestedData };

/**
 * An event's data already serialised: exactly the text `JSON.stringify(data)` gives (the
 * recorder builds entitlements.updated's from the answers' JSON, which it has anyway).
 */
export interface SerializedEventData {
  type: EventType;
  dataJson: string;
}

/** An event about to be recorded. */
export type NewEvent = (EventData | SerializedEventData) & { userId: string | null };

/** A recorded event, as the feed and the deliveries carry it. */
export interface RecordedEvent {
  seq: number;
  /** `webhook-id` of its deliveries. */
  id: string;
  type: EventType;
  userId: string | null;
  /** The exact webhook body, `{"type","timestamp","data"}`. */
  body: string;
  recordedAt: Date;
}
