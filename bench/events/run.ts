// Events benchmark (issue 16, "Measured"): the real service (its own process, on a fresh
// PostgreSQL database) with a backlog of N recorded events it has not delivered — as after
// the receiver was down — and a fast local receiver.
//   1. Catch-up: events per second delivered from the backlog (first request to the last
//      event received), each id counted once, to a receiver answering 204 at once.
//   2. Feed read: events per second through GET /events?limit=1000, the whole feed page by
//      page over one keep-alive connection, --repeat times.
//   npx tsx bench/events/run.ts [--events 20000] [--users 1000] [--repeat 3] [--dist] [--keep] [--env KEY=VALUE ...]

import { performance } from 'node:perf_hooks';
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import type { EventData } from '../../src/events/event-types.js';
import { appendEvents } from '../../src/events/events.repository.js';
import { withClient } from '../../test/helpers/database.js';
import { createTestPki } from '../../test/helpers/pki.js';
import { eachArgument } from '../common/arguments.js';
import { createBenchDatabase, DEFAULT_SERVER_URL } from '../common/database.js';
import { keyValue, settingsText } from '../common/own-cluster.js';
import { startReceiver } from '../common/receiver.js';
import { machineDescription, startService } from '../common/service.js';
import { BENCH_APP_APPLE_ID, BENCH_BUNDLE_ID } from '../ingest/notifications.js';

interface Options {
  events: number;
  users: number;
  repeat: number;
  dist: boolean;
  keep: boolean;
  env: Record<string, string>;
  serverUrl: string;
}

const API_KEY = 'bench-events-key-0123456789abcdef';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';

function parseArgs(argv: string[]): Options {
  const options: Options = {
    events: 20_000,
    users: 1_000,
    repeat: 3,
    dist: false,
    keep: false,
    env: {},
    serverUrl: process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL,
  };
  eachArgument(argv, (arg, value) => {
    if (arg === '--events') options.events = Number(value());
    else if (arg === '--users') options.users = Number(value());
    else if (arg === '--repeat') options.repeat = Number(value());
    else if (arg === '--dist') options.dist = true;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--env') {
      const [key, setting] = keyValue(value());
      options.env[key] = setting;
    } else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

/** An entitlements.updated with one (abridged) entitlement: the shape matters not to delivery, only the size. */
function eventOf(index: number, users: number): EventData & { userId: string } {
  const userId = `00000000-0000-4000-8000-${String(index % users).padStart(12, '0')}`;
  const entitlement = {
    productId: 'com.example.pro.monthly',
    status: 'active',
    active: true,
    expiresAt: '2026-12-31T00:00:00.000Z',
    willRenew: true,
    originalTransactionId: String(2_000_000_000 + index),
  };
  return { type: 'entitlements.updated', userId, data: { userId, entitlements: [entitlement], previous: [] } } as unknown as EventData & { userId: string };
}

/** Records the backlog straight into the outbox, 1,000 events per transaction. */
async function seedBacklog(url: string, count: number, users: number): Promise<void> {
  const database = await openDatabase({ url, dataDir: 'memory://' });
  try {
    await migrateDatabase(database);
    for (let start = 0; start < count; start += 1_000) {
      const batch = Array.from({ length: Math.min(1_000, count - start) }, (_, i) => eventOf(start + i, users));
      await database.db.transaction((tx) => appendEvents(tx, batch, new Date()));
    }
  } finally {
    await database.close();
  }
}

async function readFeed(baseUrl: string, expected: number): Promise<{ seconds: number; events: number; pages: number }> {
  let after: string | undefined;
  let events = 0;
  let pages = 0;
  const started = performance.now();
  for (;;) {
    const response = await fetch(`${baseUrl}/events?limit=1000${after ? `&after=${after}` : ''}`, { headers: { authorization: `Bearer ${API_KEY}` } });
    if (response.status !== 200) throw new Error(`GET /events answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { events: unknown[]; nextCursor: string };
    pages += 1;
    events += page.events.length;
    after = page.nextCursor;
    if (page.events.length === 0 || events >= expected) break;
  }
  return { seconds: (performance.now() - started) / 1000, events, pages };
}

async function loadAverage(): Promise<string> {
  const { loadavg } = await import('node:os');
  return loadavg()
    .map((n) => n.toFixed(1))
    .join(' / ');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const machine = await machineDescription(options.serverUrl);
  const pki = await createTestPki();
  const database = await createBenchDatabase(options.serverUrl);
  const receiver = await startReceiver();
  const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  try {
    process.stderr.write(`recording a backlog of ${options.events} events (${options.users} users)...\n`);
    await seedBacklog(database.url, options.events, options.users);
    const loadBefore = await loadAverage();

    process.stderr.write('starting the service: it delivers the backlog...\n');
    const service = await startService({
      databaseUrl: database.url,
      rootDer: pki.rootDer,
      dist: options.dist,
      env: {
        APPLE_BUNDLE_ID: BENCH_BUNDLE_ID,
        APPLE_APP_APPLE_ID: String(BENCH_APP_APPLE_ID),
        API_KEYS: API_KEY,
        EVENTS_WEBHOOK_URLS: receiver.url,
        EVENTS_WEBHOOK_SECRET: SECRET,
        ...options.env,
      },
    });
    try {
      const [first, last] = await receiver.done(options.events);
      const catchUpSeconds = (last - first) / 1000;
      // The receiver has the last id before the service records its delivery: wait for the rows.
      const delivered = await withClient(database.url, async (client) => {
        let rows = 0;
        for (let i = 0; i < 100 && rows < options.events; i += 1) {
          if (i > 0) await new Promise((resolve) => setTimeout(resolve, 100));
          const result = await client.query<{ n: number }>("select count(*)::int as n from event_deliveries where status = 'delivered'");
          rows = result.rows[0]?.n ?? 0;
        }
        return rows;
      });
      const loadAfterCatchUp = await loadAverage();

      process.stderr.write('reading the feed...\n');
      const reads: Array<{ seconds: number; events: number; pages: number }> = [];
      for (let r = 0; r < options.repeat; r += 1) reads.push(await readFeed(service.baseUrl, options.events));
      const rates = reads.map((read) => read.events / read.seconds).sort((a, b) => a - b);

      const lines = [
        `Machine: ${machine}`,
        `Load average (1/5/15 min) before: ${loadBefore}; after catch-up: ${loadAfterCatchUp}; after the feed reads: ${await loadAverage()}`,
        `Service: ${options.dist ? 'node dist/server.js' : 'tsx src/server.ts'}, LOG_LEVEL=warn, EVENTS_WEBHOOK_URLS=one local receiver (204 at once)${
          Object.keys(options.env).length ? `, ${settingsText(options.env)}` : ''
        }`,
        `Backlog: ${fmt(options.events)} entitlements.updated events of ${fmt(options.users)} users, recorded before the service started (~${fmt(
          Buffer.byteLength(JSON.stringify(eventOf(0, 1).data)) + 60,
        )} bytes each)`,
        '',
        '| measurement | events | seconds | events/s |',
        '|---|---:|---:|---:|',
        `| catch-up: backlog delivered (first request → last new id) | ${fmt(receiver.unique())} | ${fmt(catchUpSeconds, 1)} | ${fmt(options.events / catchUpSeconds)} |`,
        ...reads.map(
          (read, i) =>
            `| feed read ${i + 1}: GET /events?limit=1000, ${read.pages} pages | ${fmt(read.events)} | ${fmt(read.seconds, 2)} | ${fmt(read.events / read.seconds)} |`,
        ),
        '',
        `Catch-up: ${fmt(receiver.requests())} requests for ${fmt(receiver.unique())} distinct ids (${fmt(receiver.requests() - receiver.unique())} repeated); delivery rows marked delivered: ${fmt(delivered)}.`,
        `Feed read: median ${fmt(rates[rates.length >> 1]!)} events/s (min ${fmt(rates[0]!)}, max ${fmt(rates.at(-1)!)}).`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    } finally {
      await service.stop();
    }
  } finally {
    await receiver.close();
    if (!options.keep) await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
