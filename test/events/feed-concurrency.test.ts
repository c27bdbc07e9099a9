import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DAY, TEST_API_KEY } from '../helpers/constants.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, scenario } from '../notifications/support.js';
import { recordedEvents } from './support.js';

// A reader following the feed while notifications arrive at once (grouped into shared
// transactions by the ingest batcher) sees every event exactly once, in feed order.

const t = useTestApp();

describe(`the feed under concurrent ingest (${backendName})`, () => {
  it('hands a following reader every event once, none skipped, while 30 notifications are written concurrently', async () => {
    const start = Date.now() - DAY;
    const users = Array.from({ length: 30 }, () => randomUUID());
    const first = (await recordedEvents(t.database.handle.db)).at(-1)?.seq ?? 0;

    const seen: string[] = [];
    let cursor = String(first);
    let writing = true;
    const reader = (async () => {
      for (;;) {
        // Only a read that began after the last write committed may end the loop.
        const writesDone = !writing;
        const response = await t.app.inject({
          method: 'GET',
          url: `/events?after=${cursor}&limit=7&wait=1`,
          headers: { authorization: `Bearer ${TEST_API_KEY}` },
        });
        const page = response.json() as { events: Array<{ id: string }>; nextCursor: string };
        seen.push(...page.events.map((e) => e.id));
        cursor = page.nextCursor;
        if (writesDone && page.events.length === 0) return;
      }
    })();

    await Promise.all(
      users.map((userId) => {
        const s = scenario(t.pki, { start });
        return deliver(
          t.app,
          s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: userId }) }),
        );
      }),
    );
    writing = false;
    await reader;

    const stored = (await recordedEvents(t.database.handle.db, first)).map((e) => e.id);
    expect(stored).toHaveLength(60);
    expect(seen).toEqual(stored);
  });
});
