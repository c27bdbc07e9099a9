import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { signWebhook } from '../../src/events/standard-webhooks.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';
const key = new Uint8Array(Buffer.from(SECRET.slice('whsec_'.length), 'base64'));
const body = JSON.stringify({ type: 'entitlements.updated', timestamp: '2026-12-01T10:00:00.000Z', data: { userId: 'u-1', entitlements: [], previous: [] } });

describe('Standard Webhooks signing', () => {
  it('produces headers that the standardwebhooks package verifies with the same secret', () => {
    const headers = signWebhook({ key, id: 'evt_4f0c6a3e-1', at: new Date(), body });
    expect(new Webhook(SECRET).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('sends the event id, the time in Unix seconds and one v1 signature', () => {
    const headers = signWebhook({ key, id: 'evt_1', at: new Date('2026-12-01T10:00:00.900Z'), body });
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-timestamp']).toBe(String(Date.parse('2026-12-01T10:00:00Z') / 1000));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(headers['webhook-signature']).toBe(new Webhook(SECRET).sign('evt_1', new Date('2026-12-01T10:00:00Z'), body));
  });

  it('is refused by a receiver holding another secret, or when the body was changed', () => {
    const headers = signWebhook({ key, id: 'evt_2', at: new Date(), body });
    const other = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    expect(() => new Webhook(other).verify(body, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(SECRET).verify(body.replace('u-1', 'u-2'), headers)).toThrow(WebhookVerificationError);
  });
});
