import pg from 'pg';
import { ANSWER_INPUTS_CHANNEL, parseInvalidation } from '../../src/entitlements/answer-inputs-channel.js';
import { authHeader, type TestApp } from '../helpers/app.js';

/** What a LISTEN on the cache's channel heard (PostgreSQL): users named, and whether "every user" came. */
export interface HeardInvalidations {
  users: Set<string>;
  everyone: boolean;
  clear(): void;
  close(): Promise<void>;
}

export async function listenToAnswerInputs(url: string): Promise<HeardInvalidations> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const heard: HeardInvalidations = {
    users: new Set(),
    everyone: false,
    clear() {
      heard.users.clear();
      heard.everyone = false;
    },
    close: () => client.end(),
  };
  client.on('notification', (message) => {
    const users = parseInvalidation(message.payload);
    if (users === 'all') heard.everyone = true;
    else for (const user of users) heard.users.add(user);
  });
  await client.query(`listen ${ANSWER_INPUTS_CHANNEL}`);
  return heard;
}

/**
 * Polls `check` until it returns true; the milliseconds it took. The cap is generous (a
 * loaded machine), so a failure means "never", not "slow".
 */
export async function until(check: () => boolean | Promise<boolean>, what: string, capMs = 15_000, everyMs = 2): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > capMs) throw new Error(`${what}: not within ${capMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The user's entitlements as GET /entitlements/:userId answers them. */
export async function entitlementsOf(t: TestApp, userId: string): Promise<unknown[]> {
  const response = await t.app.inject({ method: 'GET', url: `/entitlements/${encodeURIComponent(userId)}`, headers: authHeader() });
  if (response.statusCode !== 200) throw new Error(`GET /entitlements answered ${response.statusCode}: ${response.body}`);
  return (response.json() as { entitlements: unknown[] }).entitlements;
}
