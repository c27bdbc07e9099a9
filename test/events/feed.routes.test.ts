import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import { DAY, TEST_ADMIN_KEY, TEST_API_KEY } from '../helpers/constants.js';
import { backendName, testDatabaseUrl } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, scenario } from '../notifications/support.js';
import { recordedEvents } from './support.js';

// GET /events: the recorded events, oldest first, paged by cursor, waiting when asked to.

const t = useTestApp();
const auth = { authorization: `Bearer ${TEST_API_KEY}` };

interface Page {
  events: Array<{ id: string; type: string; timestamp: string; data: Record<string, unknown> }>;
  nextCursor: string;
}

async function feed(query: string): Promise<Page> {
  const response = await t.app.inject({ method: 'GET', url: `/events${query}`, headers: auth });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as Page;
}

async function purchase(): Promise<void> {
  const start = Date.now() - DAY;
  const s = scenario(t.pki, { start });
  await deliver(
    t.app,
    s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: randomUUID() }) }),
  );
}

describe(`GET /events (${backendName})`, () => {
  it('answers the recorded events oldest first, with the same ids and bodies, page by page', async () => {
    for (let i = 0; i < 3; i++) await purchase();
    const stored = await recordedEvents(t.database.handle.db);
    expect(stored.length).toBeGreaterThanOrEqual(6);

    const seen: Page['events'] = [];
    let cursor = '';
    for (;;) {
      const page = await feed(`?limit=4${cursor ? `&after=${cursor}` : ''}`);
      seen.push(...page.events);
      if (page.events.length === 0) {
        expect(page.nextCursor).toBe(cursor);
        break;
      }
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(stored.map((e) => ({ id: e.id, type: e.type, timestamp: e.timestamp, data: e.data })));
  });

  it('answers an empty feed end with a cursor that still points there', async () => {
    const end = (await feed('?limit=1000')).nextCursor;
    expect(await feed(`?after=${end}`)).toEqual({ events: [], nextCursor: end });
  });

  it('refuses a bad cursor, limit or wait with its own code', async () => {
    const cases: Array<[string, string]> = [
      ['?after=abc', 'INVALID_CURSOR'],
      ['?after=-1', 'INVALID_CURSOR'],
      ['?limit=0', 'INVALID_LIMIT'],
      ['?limit=1001', 'INVALID_LIMIT'],
      ['?limit=ten', 'INVALID_LIMIT'],
      ['?wait=31', 'INVALID_WAIT'],
      ['?wait=-1', 'INVALID_WAIT'],
      ['?wait=soon', 'INVALID_WAIT'],
    ];
    for (const [query, code] of cases) {
      const response = await t.app.inject({ method: 'GET', url: `/events${query}`, headers: auth });
      expect([query, response.statusCode, (response.json() as { error: { code: string } }).error.code]).toEqual([query, 400, code]);
    }
  });

  it('answers 401 without an app key and 401 with an admin key', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/events' })).statusCode).toBe(401);
    expect((await t.app.inject({ method: 'GET', url: '/events', headers: { authorization: `Bearer ${TEST_ADMIN_KEY}` } })).statusCode).toBe(401);
  });

  it('waits with an empty answer until the next event is recorded, then answers it', async () => {
    const end = (await feed('?limit=1000')).nextCursor;
    const waiting = feed(`?after=${end}&wait=30`);
    let answered = false;
    void waiting.then(() => (answered = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(answered).toBe(false);
    await purchase();
    const page = await waiting;
    expect(page.events.map((e) => e.type)).toEqual(['notification.received', 'entitlements.updated']);
  });

  it('lists the route in the API reference', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/docs/openapi.json' });
    const document = response.json() as { paths: Record<string, Record<string, { parameters?: Array<{ name: string }> }>> };
    // X-App-Id is documented on every route that takes a key (SPEC "Several apps").
    expect(document.paths['/events']?.get?.parameters?.map((p) => p.name).sort()).toEqual(['after', 'limit', 'wait', 'x-app-id']);
  });
});

describe.skipIf(!testDatabaseUrl)('GET /events across replicas (PostgreSQL)', () => {
  it('wakes a reader waiting on one replica when another replica records an event', async () => {
    const other = await createTestApp({ database: t.database, pki: t.pki });
    try {
      await other.app.ready();
      const end = (await feed('?limit=1000')).nextCursor;
      const response = other.app.inject({ method: 'GET', url: `/events?after=${end}&wait=30`, headers: auth });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await purchase();
      const page = (await response).json() as Page;
      expect(page.events.map((e) => e.type)).toEqual(['notification.received', 'entitlements.updated']);
    } finally {
      // The database belongs to the file's app: close only this replica's app.
      await other.close();
    }
  });
});

describe(`GET /events while the service stops (${backendName})`, () => {
  it('answers a waiting reader at once, empty, when the app closes', async () => {
    const own = await createTestApp({ database: t.database, pki: t.pki });
    // Started first: a request that reaches a closing app is answered 503 by the shutdown guard.
    await own.app.ready();
    const end = (await feed('?limit=1000')).nextCursor;
    const waiting = own.app.inject({ method: 'GET', url: `/events?after=${end}&wait=30`, headers: auth });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const closed = own.close();
    const response = await waiting;
    await closed;
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ events: [], nextCursor: end });
  });
});
