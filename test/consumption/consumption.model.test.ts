import { describe, expect, it } from 'vitest';
import { type ConsumptionFacts, consumptionBody, decide, retryDelayMs } from '../../src/consumption/consumption.model.js';

const NOW = new Date('2026-12-01T10:00:00Z');
const request = { deadline: new Date('2026-12-01T20:00:00Z'), environment: 'Production' };
const facts: ConsumptionFacts = {
  customerConsented: true,
  sampleContentProvided: true,
  deliveryStatus: 'DELIVERED',
  consumptionPercentage: null,
  refundPreference: 'GRANT_PRORATED',
};

describe('what to do with a consumption request', () => {
  it('sends the v2 body with only the optional fields given', () => {
    expect(decide(request, facts, NOW, true)).toEqual({
      kind: 'send',
      environment: 'Production',
      body: { customerConsented: true, sampleContentProvided: true, deliveryStatus: 'DELIVERED', refundPreference: 'GRANT_PRORATED' },
    });
    expect(consumptionBody({ ...facts, consumptionPercentage: 0, refundPreference: null })).toEqual({
      customerConsented: true,
      sampleContentProvided: true,
      deliveryStatus: 'DELIVERED',
      consumptionPercentage: 0,
    });
  });

  it('waits for the facts until the deadline, and expires at the deadline whatever the facts', () => {
    expect(decide(request, null, NOW, true)).toEqual({ kind: 'wait', until: request.deadline });
    expect(decide(request, facts, request.deadline, true)).toEqual({ kind: 'expire' });
    expect(decide(request, null, new Date(request.deadline.getTime() + 1), true)).toEqual({ kind: 'expire' });
  });

  it('sends nothing without consent, without credentials, or for an environment Apple does not serve', () => {
    expect(decide(request, { ...facts, customerConsented: false }, NOW, true)).toEqual({ kind: 'not_sent', reason: 'customer_did_not_consent' });
    expect(decide(request, facts, NOW, false)).toEqual({ kind: 'not_sent', reason: 'api_not_configured' });
    expect(decide({ ...request, environment: 'Xcode' }, facts, NOW, true)).toEqual({ kind: 'not_sent', reason: 'no_app_store_environment' });
    expect(decide({ ...request, environment: null }, facts, NOW, true)).toMatchObject({ kind: 'send', environment: 'Production' });
  });

  it('waits longer after each failed attempt, at most 30 minutes', () => {
    expect([1, 2, 3, 7, 20].map(retryDelayMs)).toEqual([30_000, 60_000, 120_000, 1_800_000, 1_800_000]);
  });
});
