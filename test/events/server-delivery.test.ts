import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { freePort, runEntry, waitForStatus } from '../helpers/process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { seedEvent } from './support.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';

// The service as it runs: server.ts starts the delivery worker once listening and stops it on SIGTERM.
describe('the service with EVENTS_WEBHOOK_URLS', () => {
  let workDir: string;
  let receiver: WebhookReceiver;
  let env: Record<string, string>;
  let eventId: string;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'ase-events-server-'));
    receiver = await startWebhookReceiver();
    env = {
      HOST: '127.0.0.1',
      APPLE_BUNDLE_ID: TEST_BUNDLE_ID,
      APPLE_APP_APPLE_ID: String(TEST_APP_APPLE_ID),
      APPLE_ONLINE_CHECKS: 'false',
      API_KEYS: 'server-test-key-0123456789',
      DATA_DIR: path.join(workDir, 'data'),
      RECOVERY_INTERVAL: '0',
      LOG_LEVEL: 'info',
      EVENTS_WEBHOOK_URLS: receiver.url,
      EVENTS_WEBHOOK_SECRET: SECRET,
    };
    eventId = await seedEvent(env.DATA_DIR!);
  }, 120_000);

  afterAll(async () => {
    await receiver?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('delivers a recorded event once started, signed, and stops cleanly on SIGTERM', { timeout: 180_000 }, async () => {
    const port = await freePort();
    const server = runEntry('src/server.ts', { cwd: workDir, env: { ...env, PORT: String(port) }, args: [] });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/readyz`, 200, 150_000, server);
      await receiver.waitFor(1);
      const [request] = receiver.requests;
      expect(request!.headers['webhook-id']).toBe(eventId);
      expect(() => new Webhook(SECRET).verify(request!.body, request!.headers as Record<string, string>)).not.toThrow();
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited, server.output()).toBe(0);
    expect(server.output()).toContain('shutdown complete');
  });

  it('stops at start-up naming EVENTS_WEBHOOK_SECRET when URLs are set without it', { timeout: 60_000 }, async () => {
    const { EVENTS_WEBHOOK_SECRET: _secret, ...withoutSecret } = env;
    const server = runEntry('src/server.ts', { cwd: workDir, env: { ...withoutSecret, PORT: String(await freePort()) }, args: [] });
    expect(await server.exited).toBe(1);
    expect(server.output()).toMatch(/^Configuration error: EVENTS_WEBHOOK_SECRET is required when EVENTS_WEBHOOK_URLS is set/m);
  });
});
