// What the service reports as it works. The Prometheus implementation lives in
// metrics.ts; modules depend only on this interface, and tests can pass `noopEvents`.

export type NotificationOutcome = 'processed' | 'duplicate' | 'rejected' | 'failed';

export type EventDeliveryOutcome = 'delivered' | 'retry' | 'failed';

export interface ServiceEvents {
  notification(event: { version: 'v1' | 'v2'; type: string; outcome: NotificationOutcome; durationMs: number }): void;
  verificationFailed(event: { code: string }): void;
  appStoreApiCall(event: { endpoint: string; environment: string; status: number | 'network_error'; durationMs: number; attempt: number }): void;
  recoveryRun(event: { trigger: 'schedule' | 'admin' | 'cli'; outcome: 'success' | 'failure' | 'skipped'; fetched: number; applied: number }): void;
  /** One attempt to deliver an event to one of EVENTS_WEBHOOK_URLS (`url` without credentials or query). */
  eventDelivery(event: { url: string; outcome: EventDeliveryOutcome; durationMs: number }): void;
  /** Events for the app backend committed (src/events/), `count` of one type. */
  eventsRecorded(event: { type: string; count: number }): void;
  /**
   * The sink for one app's events (SPEC "Several apps"): what it reports carries the app's id
   * (the `app` label of the Prometheus metrics). Optional so that any sink still fits; callers
   * write `events.forApp?.(app.id) ?? events`.
   */
  forApp?(appId: string): ServiceEvents;
}

export const noopEvents: ServiceEvents = {
  notification() {},
  verificationFailed() {},
  appStoreApiCall() {},
  recoveryRun() {},
  eventDelivery() {},
  eventsRecorded() {},
};
