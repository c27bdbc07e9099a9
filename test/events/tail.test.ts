import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCliArguments, UsageError } from '../../src/cli-args.js';
import { tailEvents } from '../../src/events/tail.js';
import { createServices } from '../../src/services.js';
import { DAY } from '../helpers/constants.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, scenario } from '../notifications/support.js';

// `npm run cli -- events tail`: the feed followed, one JSON line per event.

const t = useTestApp();

async function purchase(): Promise<void> {
  const start = Date.now() - DAY;
  const s = scenario(t.pki, { start });
  await deliver(
    t.app,
    s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: randomUUID() }) }),
  );
}

describe('events tail', () => {
  it('parses `events tail` with its options and refuses anything else', () => {
    expect(parseCliArguments(['events', 'tail'])).toEqual({ name: 'events-tail', after: undefined, fromStart: false });
    expect(parseCliArguments(['events', 'tail', '--after', '42'])).toEqual({ name: 'events-tail', after: '42', fromStart: false });
    expect(parseCliArguments(['events', 'tail', '--from-start'])).toEqual({ name: 'events-tail', after: undefined, fromStart: true });
    expect(() => parseCliArguments(['events'])).toThrow(UsageError);
    expect(() => parseCliArguments(['events', 'tail', '--after', 'x'])).toThrow(UsageError);
    expect(() => parseCliArguments(['events', 'tail', '--after', '1', '--from-start'])).toThrow(UsageError);
  });

  it('writes the events recorded from where it starts on, one JSON line each, until stopped', async () => {
    await purchase();
    const services = createServices(t.deps);
    const lines: string[] = [];
    const stop = new AbortController();
    const following = tailEvents({
      feed: services.feed,
      from: 'end',
      write: (line) => {
        lines.push(line);
        if (lines.length === 2) stop.abort();
      },
      signal: stop.signal,
    });
    // Woken through this app's signal: the tail reads what the app's own services record.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await purchase();
    // The tail's services are not the app's: a nudge through the database is what
    // another process would get from NOTIFY; here the tail's signal is told directly.
    services.feedSignal.wakeAll();
    await following;
    await services.close();
    const events = lines.map((line) => JSON.parse(line) as { id: string; type: string });
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['notification.received', 'entitlements.updated']);
    expect(events.every((e) => e.id.startsWith('evt_'))).toBe(true);
  });
});
