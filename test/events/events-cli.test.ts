import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArguments, UsageError } from '../../src/cli-args.js';
import { openDatabase } from '../../src/db/client.js';
import { eventDeliveries } from '../../src/db/schema.js';
import { TEST_APP_APPLE_ID, TEST_BUNDLE_ID } from '../helpers/app.js';
import { runEntry } from '../helpers/process.js';
import { seedEvent } from './support.js';

describe('events redeliver arguments', () => {
  it('reads the event id and refuses a missing one, an extra one or an unknown events command', () => {
    expect(parseCliArguments(['events', 'redeliver', 'evt_1'])).toEqual({ name: 'events-redeliver', eventId: 'evt_1' });
    expect(() => parseCliArguments(['events', 'redeliver'])).toThrow(UsageError);
    expect(() => parseCliArguments(['events', 'redeliver', 'evt_1', 'evt_2'])).toThrow(UsageError);
    expect(() => parseCliArguments(['events', 'resend', 'evt_1'])).toThrow(UsageError);
    expect(() => parseCliArguments(['events'])).toThrow(UsageError);
  });
});

// As an operator runs it: a process of its own over the embedded database under DATA_DIR.
describe('npm run cli -- events redeliver', () => {
  let workDir: string;
  let env: Record<string, string>;
  let eventId: string;

  beforeAll(async () => {
    workDir = mkdtempSync(path.join(tmpdir(), 'ase-events-cli-'));
    env = {
      APPLE_BUNDLE_ID: TEST_BUNDLE_ID,
      APPLE_APP_APPLE_ID: String(TEST_APP_APPLE_ID),
      APPLE_ONLINE_CHECKS: 'false',
      API_KEYS: 'cli-test-key-0123456789',
      DATA_DIR: path.join(workDir, 'data'),
      EVENTS_WEBHOOK_URLS: 'http://127.0.0.1:9/hooks',
      EVENTS_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=',
      LOG_LEVEL: 'warn',
    };
    eventId = await seedEvent(env.DATA_DIR!);
  }, 120_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  async function cli(...args: string[]) {
    const run = runEntry('src/cli.ts', { cwd: workDir, env, args });
    const code = await run.exited;
    return { code, output: run.output() };
  }

  it('makes a kept event pending again for every URL and prints it; an unknown id exits 1 with EVENT_NOT_FOUND', { timeout: 120_000 }, async () => {
    const known = await cli('events', 'redeliver', eventId);
    expect(known.code, known.output).toBe(0);
    expect(JSON.parse(known.output.slice(known.output.indexOf('{')))).toEqual({ eventId, deliveries: 1 });

    const unknown = await cli('events', 'redeliver', 'evt_nobody');
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('EVENT_NOT_FOUND');

    const database = await openDatabase({ url: null, dataDir: env.DATA_DIR! });
    try {
      const rows = await database.db.select({ status: eventDeliveries.status, url: eventDeliveries.url }).from(eventDeliveries);
      expect(rows).toEqual([{ status: 'pending', url: 'http://127.0.0.1:9/hooks' }]);
    } finally {
      await database.close();
    }
  });
});
