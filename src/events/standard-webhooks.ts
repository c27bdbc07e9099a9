import { createHmac } from 'node:crypto';

// Standard Webhooks (standardwebhooks.com) signing: a symmetric v1 signature over
// "<id>.<timestamp>.<body>". Written by hand because it is three lines over node:crypto;
// the test suite checks it against the `standardwebhooks` package a receiver would use.

export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export interface SignInput {
  /** The HMAC-SHA256 key (the decoded part of `whsec_<base64>`). */
  key: Uint8Array;
  /** The event id: the same on every attempt, so receivers can drop duplicates. */
  id: string;
  /** When this attempt is sent; receivers refuse timestamps far from their own clock. */
  at: Date;
  /** The exact bytes sent as the request body. */
  body: string;
}

export function signWebhook({ key, id, at, body }: SignInput): WebhookHeaders {
  const timestamp = String(Math.floor(at.getTime() / 1000));
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}
