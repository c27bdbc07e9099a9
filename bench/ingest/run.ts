// Ingest benchmark: unique, fully signed V2 notifications posted over real HTTP to the
// real service (its own process, on a fresh PostgreSQL database) at fixed offered rates
// and at saturation; then the rows are counted to show each was applied exactly once.
//   npx tsx bench/ingest/run.ts [--rate 250,500,1000] [--duration 10] [--saturation 15]
//                               [--count N] [--connections C] [--open-loop] [--dist] [--keep]
//                               [--env KEY=VALUE ...] [--node-arg --cpu-prof ...] [--setup-sql SQL ...]
//                               [--own-cluster max_wal_size=8GB ...]  (a throwaway PostgreSQL with these settings)
//                               [--receiver]    (EVENTS_WEBHOOK_URLS = one local receiver in its own process, answering 204;
//                                                each run's delivery lag, recorded → delivered, read from the database)
//                               [--statements]  (pg_stat_statements' top statements over the measured runs; needs
//                                                --own-cluster shared_preload_libraries=pg_stat_statements)
//                               [--apps N]      (APPS_FILE with N apps; the subscriptions, so the notifications, take turns)

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type pg from 'pg';
import { withClient } from '../../test/helpers/database.js';
import { createTestPki } from '../../test/helpers/pki.js';
import { eachArgument } from '../common/arguments.js';
import { cpuMeter, cpuSecondsOf } from '../common/cpu.js';
import { createBenchDatabase, DEFAULT_SERVER_URL } from '../common/database.js';
import { runOpenLoop } from '../common/open-loop.js';
import { keyValue, settingsText, startOwnCluster } from '../common/own-cluster.js';
import { type ReceiverProcess, startReceiverProcess } from '../common/receiver.js';
import { machineDescription, startService } from '../common/service.js';
import { BENCH_APP_APPLE_ID, BENCH_BUNDLE_ID, type BenchApp, type BenchNotification, benchApps, benchNotifications } from './notifications.js';

interface Options {
  rates: number[];
  duration: number;
  saturationSeconds: number;
  count: number | null;
  connections: number | null;
  /** Fixed rates from the open-loop generator (evenly spaced) instead of autocannon's per-second budget. */
  openLoop: boolean;
  dist: boolean;
  keep: boolean;
  env: Record<string, string>;
  nodeArgs: string[];
  /** SQL run on the benchmark database once the service has migrated it (experiments). */
  setupSql: string[];
  serverUrl: string;
  /** Settings of a throwaway PostgreSQL cluster to run on instead of serverUrl; null for none. */
  ownCluster: Record<string, string> | null;
  receiver: boolean;
  statements: boolean;
  /** How many apps the notifications are spread over (1: the APPLE_* settings; more: an APPS_FILE). */
  apps: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    rates: [250, 500, 1000],
    duration: 10,
    saturationSeconds: 15,
    count: null,
    connections: null,
    openLoop: false,
    dist: false,
    keep: false,
    env: {},
    nodeArgs: [],
    setupSql: [],
    serverUrl: process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL,
    ownCluster: null,
    receiver: false,
    statements: false,
    apps: 1,
  };
  eachArgument(argv, (arg, value) => {
    if (arg === '--rate') options.rates = value().split(',').filter(Boolean).map(Number);
    else if (arg === '--duration') options.duration = Number(value());
    else if (arg === '--saturation') options.saturationSeconds = Number(value());
    else if (arg === '--count') options.count = Number(value());
    else if (arg === '--connections') options.connections = Number(value());
    else if (arg === '--open-loop') options.openLoop = true;
    else if (arg === '--dist') options.dist = true;
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--receiver') options.receiver = true;
    else if (arg === '--statements') options.statements = true;
    else if (arg === '--apps') options.apps = Number(value());
    else if (arg === '--node-arg') options.nodeArgs.push(value());
    else if (arg === '--setup-sql') options.setupSql.push(value());
    else if (arg === '--own-cluster') {
      const [key, setting] = keyValue(value());
      options.ownCluster = { ...options.ownCluster, [key]: setting };
    } else if (arg === '--env') {
      const [key, setting] = keyValue(value());
      options.env[key] = setting;
    } else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

interface RunResult {
  name: string;
  offered: string;
  connections: number;
  sent: number;
  ok: number;
  processed: number;
  duplicate: number;
  non2xx: number;
  errors: number;
  seconds: number;
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  failed: BenchNotification[];
  /**
   * CPU milliseconds per notification answered 200: service, PostgreSQL backends, load
   * generator, receiver (0 without); and the milliseconds the service's event loop waited
   * for a core meanwhile (runnable, not running: the other processes had both cores).
   */
  cpuMs?: { service: number; postgres: number; generator: number; receiver: number; serviceWaiting: number };
  /** Wall-clock span of the run (Date.now()), to find the events it recorded. */
  window?: [number, number];
}

/** What each notification of `batch` was answered (by its index); unanswered or refused ones fail. */
function tally(batch: BenchNotification[], answers: Map<number, { status: number | null; body: string }>) {
  let processed = 0;
  let duplicate = 0;
  const failed: BenchNotification[] = [];
  batch.forEach((n, index) => {
    const answer = answers.get(index);
    if (answer?.status === 200 && answer.body.includes('"processed"')) processed += 1;
    else if (answer?.status === 200 && answer.body.includes('"duplicate"')) duplicate += 1;
    else failed.push(n);
  });
  return { processed, duplicate, failed };
}

/** Posts each of `batch` once at evenly spaced instants, `rate` per second. */
async function driveOpenLoop(baseUrl: string, name: string, batch: BenchNotification[], rate: number): Promise<RunResult> {
  const answers = new Map<number, { status: number | null; body: string }>();
  const connections = 256;
  const result = await runOpenLoop({
    baseUrl,
    count: batch.length,
    request: (index) => ({ method: 'POST', path: '/webhooks/apple/v2', body: batch[index]!.body }),
    ratePerSecond: rate,
    connections,
    onAnswer: (index, status, body) => answers.set(index, { status, body }),
  });
  const { processed, duplicate, failed } = tally(batch, answers);
  return {
    name,
    offered: `${rate}/s open loop`,
    connections,
    sent: batch.length,
    ok: result.ok,
    processed,
    duplicate,
    non2xx: result.non2xx,
    errors: result.errors,
    seconds: result.seconds,
    throughput: result.ok / result.seconds,
    p50: Math.round(result.latency.p50),
    p99: Math.round(result.latency.p99),
    max: Math.round(result.latency.max),
    failed,
  };
}

/** Posts each of `batch` once, at `rate` per second overall (or as fast as possible). */
async function drive(baseUrl: string, name: string, batch: BenchNotification[], rate: number | null, connections: number): Promise<RunResult> {
  let next = 0;
  let firstSent = 0;
  let lastAnswered = 0;
  const answers = new Map<number, { status: number; body: string }>();
  const instance = autocannon({
    url: baseUrl,
    connections,
    amount: batch.length,
    ...(rate !== null ? { overallRate: rate } : {}),
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/webhooks/apple/v2',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request: Record<string, unknown>, context: Record<string, unknown>) => {
          const index = next++;
          if (index === 0) firstSent = performance.now();
          context.index = index;
          return { ...request, body: batch[index % batch.length]!.body };
        },
        onResponse: (status: number, body: string, context: Record<string, unknown>) => {
          answers.set(context.index as number, { status, body });
          lastAnswered = performance.now();
        },
      },
    ],
  });
  const result = await instance;
  // autocannon stops on its one-second tick; the run lasts from the first request to the last answer.
  const seconds = (lastAnswered - firstSent) / 1000;
  const { processed, duplicate, failed } = tally(batch, answers);
  return {
    name,
    offered: rate === null ? 'saturation' : `${rate}/s`,
    connections,
    sent: batch.length,
    ok: result['2xx'],
    processed,
    duplicate,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    seconds,
    throughput: (result['2xx'] ?? 0) / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    failed,
  };
}

/** The schemas holding an app's tables: `public` for the app `default`, one more per other app. */
async function appSchemas(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ schema: string }>(
    "select table_schema as schema from information_schema.tables where table_name = 'notifications' order by 1",
  );
  return rows.map((row) => row.schema);
}

/** Rows of every app, summed. */
async function countRows(url: string): Promise<{ notifications: number; transactions: number; subscriptions: number }> {
  return withClient(url, async (client) => {
    const schemas = await appSchemas(client);
    const count = async (table: string) => {
      const union = schemas.map((schema) => `select count(*) as n from "${schema}".${table}`).join(' union all ');
      return Number((await client.query<{ n: string }>(`select coalesce(sum(n), 0) as n from (${union}) as counts`)).rows[0]?.n ?? 0);
    };
    return { notifications: await count('notifications'), transactions: await count('transactions'), subscriptions: await count('subscriptions') };
  });
}

/** An APPS_FILE of `apps` (a directory of its own; `remove` deletes it). */
function writeAppsFile(apps: readonly BenchApp[]): { path: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ase-bench-apps-'));
  const file = path.join(dir, 'apps.json');
  const entries = apps.map((app, i) => ({
    id: app.id,
    bundleId: app.bundleId,
    appAppleId: app.appAppleId,
    environments: ['Production', 'Sandbox'],
    apiKeys: [`bench-key-${i}-0123456789abcdef`],
  }));
  writeFileSync(file, JSON.stringify({ apps: entries }));
  return { path: file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Notifications of the warm-up run (JIT, pool, chain cache, the tables' first pages). */
const WARM_UP = 2_000;

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const cluster = options.ownCluster === null ? null : await startOwnCluster(options.ownCluster);
  if (cluster !== null) options.serverUrl = cluster.url;
  try {
    await benchmark(options);
  } finally {
    cluster?.stop();
  }
  if (cluster !== null) {
    process.stdout.write(`PostgreSQL: own cluster (${settingsText(cluster.settings)})\n`);
  }
}

async function benchmark(options: Options): Promise<void> {
  const connectionsFor = (rate: number | null) => options.connections ?? (rate === null ? 32 : Math.max(16, Math.ceil(rate / 10)));
  const perRate = options.rates.map((rate) => Math.round(rate * options.duration));
  // Saturation gets what is left of --count, or a generous default.
  const saturationCount = options.saturationSeconds > 0 ? Math.max(1_000, Math.round(options.saturationSeconds * 1_500)) : 0;
  const total = options.count ?? WARM_UP + perRate.reduce((a, b) => a + b, 0) + saturationCount;

  const machine = await machineDescription(options.serverUrl);
  process.stderr.write(`machine: ${machine}\nsigning ${total} notifications...\n`);
  const pki = await createTestPki();
  const started = Date.now();
  const apps = benchApps(options.apps);
  const all = benchNotifications(pki, total, undefined, apps);
  const sizes = all.map((n) => n.body.length).sort((a, b) => a - b);
  process.stderr.write(
    `signed in ${((Date.now() - started) / 1000).toFixed(1)} s; body size median ${(sizes[sizes.length >> 1]! / 1024).toFixed(1)} KB, ` +
      `max ${(sizes[sizes.length - 1]! / 1024).toFixed(1)} KB\n`,
  );

  const database = await createBenchDatabase(options.serverUrl);
  const receiver = options.receiver ? await startReceiverProcess() : null;
  if (receiver !== null) Object.assign(options.env, { EVENTS_WEBHOOK_URLS: receiver.url, EVENTS_WEBHOOK_SECRET: RECEIVER_SECRET, ...options.env });
  const appsFile = apps.length > 1 ? writeAppsFile(apps) : null;
  const appSettings: Record<string, string> =
    appsFile === null
      ? { APPLE_BUNDLE_ID: BENCH_BUNDLE_ID, APPLE_APP_APPLE_ID: String(BENCH_APP_APPLE_ID), API_KEYS: 'bench-key-0123456789abcdef' }
      : { APPS_FILE: appsFile.path };
  const service = await startService({
    databaseUrl: database.url,
    rootDer: pki.rootDer,
    dist: options.dist,
    nodeArgs: options.nodeArgs,
    env: { ...appSettings, ...options.env },
  });
  for (const statement of options.setupSql) await withClient(database.url, (client) => client.query(statement));
  const results: RunResult[] = [];
  const meter = cpuMeter(service.process.child.pid!, database.url, database.name);
  const receiverCpu = () => (receiver === null ? 0 : cpuSecondsOf(receiver.pid));
  const measured = async (run: () => Promise<RunResult>): Promise<RunResult> => {
    const before = { ...(await meter.read()), receiver: receiverCpu() };
    const started = Date.now();
    const result = await run();
    const window: [number, number] = [started, Date.now()];
    const after = { ...(await meter.read()), receiver: receiverCpu() };
    const per = (key: keyof typeof after) => ((after[key] - before[key]) * 1000) / Math.max(1, result.ok);
    const cpuMs = {
      service: per('service'),
      postgres: per('postgres'),
      generator: per('generator'),
      receiver: per('receiver'),
      serviceWaiting: per('serviceWaiting'),
    };
    return { ...result, window, cpuMs };
  };
  try {
    // A warm-up outside the measured runs.
    let offset = 0;
    const warmup = all.slice(0, Math.min(WARM_UP, all.length));
    offset = warmup.length;
    await drive(service.baseUrl, 'warm-up', warmup, null, 8);
    if (options.statements) await resetStatements(database.url);

    for (let r = 0; r < options.rates.length; r += 1) {
      const rate = options.rates[r]!;
      const batch = all.slice(offset, offset + perRate[r]!);
      offset += batch.length;
      if (batch.length === 0) break;
      process.stderr.write(`${rate}/s for ${options.duration} s (${batch.length} notifications)...\n`);
      results.push(
        await measured(() =>
          options.openLoop
            ? driveOpenLoop(service.baseUrl, `fixed ${rate}/s, open loop`, batch, rate)
            : drive(service.baseUrl, `fixed ${rate}/s`, batch, rate, connectionsFor(rate)),
        ),
      );
    }
    const rest = all.slice(offset);
    if (rest.length > 0 && options.saturationSeconds > 0) {
      process.stderr.write(`saturation (${rest.length} notifications)...\n`);
      results.push(await measured(() => drive(service.baseUrl, 'saturation', rest, null, connectionsFor(null))));
    }

    const statements = options.statements ? await topStatements(database.url) : [];
    const deliveries = receiver === null ? [] : await deliveryLags(database.url, receiver, results);

    // Apple's retries: whatever did not get a 200 is sent again until it does.
    const unanswered = [warmup, ...results.map((r) => r.failed)].flat();
    let retried = 0;
    let pending = results.flatMap((r) => r.failed);
    for (let round = 0; round < 5 && pending.length > 0; round += 1) {
      const retry = await drive(service.baseUrl, 'retry', pending, null, 8);
      retried += pending.length;
      pending = retry.failed;
    }

    // Duplicates: already applied notifications sent again must change nothing.
    const before = await countRows(database.url);
    const duplicates = all.slice(0, Math.min(1_000, all.length));
    const dup = await drive(service.baseUrl, 'duplicates', duplicates, null, 16);
    const after = await countRows(database.url);

    const expected = {
      notifications: all.length,
      transactions: new Set(all.map((n) => n.transactionId)).size,
      subscriptions: new Set(all.map((n) => n.originalTransactionId)).size,
    };
    const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
    const lines = [
      `Machine: ${machine}`,
      ...options.setupSql.map((statement) => `Setup SQL: ${statement}`),
      `Service: ${options.dist ? 'node dist/server.js' : 'tsx src/server.ts'}, LOG_LEVEL=warn, RATE_LIMIT_WEBHOOK_PER_MINUTE=0, APPLE_ONLINE_CHECKS=false${
        Object.keys(options.env).length ? `, ${settingsText(options.env)}` : ''
      }`,
      `Notifications: ${fmt(all.length)} unique (${fmt(expected.subscriptions)} subscriptions, ${fmt(expected.transactions)} transactions), body median ${(sizes[sizes.length >> 1]! / 1024).toFixed(1)} KB${
        apps.length > 1
          ? `, spread over ${apps.length} apps (APPS_FILE: ${apps.map((app) => app.id).join(', ')}; consecutive notifications for different apps)`
          : ''
      }`,
      '',
      '| run | offered | connections | sent | 200 | non-2xx | errors | seconds | throughput (/s) | p50 (ms) | p99 (ms) | max (ms) | CPU ms/notification: service + PostgreSQL + generator | service event loop waiting for a core (ms/notification) |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...results.map(
        (r) =>
          `| ${r.name} | ${r.offered} | ${r.connections} | ${fmt(r.sent)} | ${fmt(r.ok)} | ${fmt(r.non2xx)} | ${fmt(r.errors)} | ${fmt(r.seconds, 1)} | ${fmt(r.throughput)} | ${r.p50} | ${r.p99} | ${r.max} | ${
            r.cpuMs
              ? `${fmt(r.cpuMs.service, 2)} + ${fmt(r.cpuMs.postgres, 2)} + ${fmt(r.cpuMs.generator, 2)}${receiver === null ? '' : ` + receiver ${fmt(r.cpuMs.receiver, 2)}`}`
              : ''
          } | ${r.cpuMs ? fmt(r.cpuMs.serviceWaiting, 2) : ''} |`,
      ),
      ...(receiver === null
        ? []
        : [
            '',
            `Events delivered to one local receiver (its own process, 204 at once); lag = delivered_at - recorded_at of each event the run recorded:`,
            '',
            '| run | events recorded | delivered | lag p50 (ms) | lag p99 (ms) | lag max (ms) |',
            '|---|---|---|---|---|---|',
            ...deliveries.map((d) => `| ${d.name} | ${fmt(d.events)} | ${fmt(d.delivered)} | ${fmt(d.p50)} | ${fmt(d.p99)} | ${fmt(d.max)} |`),
          ]),
      ...(statements.length === 0
        ? []
        : [
            '',
            'pg_stat_statements over the measured runs (top by execution + planning time):',
            '',
            '| calls | total ms | mean ms | planning ms | rows | statement |',
            '|---|---|---|---|---|---|',
            ...statements.map(
              (st) => `| ${fmt(st.calls)} | ${fmt(st.total, 0)} | ${fmt(st.mean, 3)} | ${fmt(st.plan, 0)} | ${fmt(st.rows)} | \`${st.query}\` |`,
            ),
          ]),
      '',
      `Retried (not answered 200 at first): ${fmt(retried)}; still unanswered after retries: ${fmt(pending.length)}.`,
      `Duplicates re-sent: ${fmt(dup.sent)}, answered "duplicate": ${fmt(dup.duplicate)}, "processed": ${fmt(dup.processed)}, rows changed: ${
        JSON.stringify(before) === JSON.stringify(after) ? 'none' : `${JSON.stringify(before)} → ${JSON.stringify(after)}`
      }.`,
      '',
      '| rows | expected | stored |',
      '|---|---|---|',
      `| notifications | ${fmt(expected.notifications)} | ${fmt(after.notifications)} |`,
      `| transactions | ${fmt(expected.transactions)} | ${fmt(after.transactions)} |`,
      `| subscriptions | ${fmt(expected.subscriptions)} | ${fmt(after.subscriptions)} |`,
      '',
      after.notifications === expected.notifications && after.transactions === expected.transactions && after.subscriptions === expected.subscriptions
        ? 'Exactly once: every notification stored once, every transaction and subscription once.'
        : 'MISMATCH: rows differ from what was sent.',
    ];
    void unanswered;
    process.stdout.write(`${lines.join('\n')}\n`);
    const serviceErrors = service.process
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":50') || line.includes('"level":60'));
    if (serviceErrors.length > 0) process.stderr.write(`service logged ${serviceErrors.length} error lines; first: ${serviceErrors[0]!.slice(0, 500)}\n`);
  } finally {
    await service.stop();
    await receiver?.close();
    appsFile?.remove();
    if (!options.keep) await database.drop();
  }
}

const RECEIVER_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/NYlTmsLXmk=';

async function resetStatements(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('create extension if not exists pg_stat_statements');
    await client.query('select pg_stat_statements_reset()');
  });
}

/**
 * pg_stat_statements' top 20 by execution plus planning time. Planning is counted with
 * `--own-cluster pg_stat_statements.track_planning=on` (0 otherwise); an unnamed statement
 * is parsed and planned again at each call.
 */
async function topStatements(url: string): Promise<Array<{ calls: number; total: number; plan: number; mean: number; rows: number; query: string }>> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ calls: string; total: number; plan: number; mean: number; rows: string; query: string }>(
      `select calls, total_exec_time as total, total_plan_time as plan, mean_exec_time as mean, rows, query from pg_stat_statements
        where dbid = (select oid from pg_database where datname = current_database()) order by total_exec_time + total_plan_time desc limit 20`,
    );
    return rows.map((row) => ({
      calls: Number(row.calls),
      total: row.total,
      plan: row.plan,
      mean: row.mean,
      rows: Number(row.rows),
      query: row.query.replace(/\s+/g, ' ').replaceAll('|', '\\|').slice(0, 160),
    }));
  });
}

/** Waits (up to two minutes) until the receiver has every recorded event, then each run's lag. */
async function deliveryLags(url: string, receiver: ReceiverProcess, results: RunResult[]) {
  return withClient(url, async (client) => {
    const schemas = await appSchemas(client);
    const each = (select: (schema: string) => string) => schemas.map(select).join(' union all ');
    const recorded = async () =>
      Number(
        (
          await client.query<{ n: string }>(
            `select coalesce(sum(n), 0) as n from (${each((schema) => `select count(*) as n from "${schema}".events`)}) as counts`,
          )
        ).rows[0]?.n ?? 0,
      );
    const deadline = Date.now() + 120_000;
    while ((await receiver.counts()).unique < (await recorded()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    const lags = [];
    for (const result of results) {
      const [from, to] = result.window!;
      const { rows } = await client.query<{ events: string; delivered: string; p50: number | null; p99: number | null; max: number | null }>(
        `select count(*) as events, count(d.delivered_at) as delivered,
                percentile_cont(0.5) within group (order by extract(epoch from d.delivered_at - d.recorded_at) * 1000) as p50,
                percentile_cont(0.99) within group (order by extract(epoch from d.delivered_at - d.recorded_at) * 1000) as p99,
                max(extract(epoch from d.delivered_at - d.recorded_at) * 1000) as max
           from (${each(
             (schema) => `select e.recorded_at, d.delivered_at from "${schema}".events e left join "${schema}".event_deliveries d on d.event_seq = e.seq`,
           )}) as d(recorded_at, delivered_at)
          where d.recorded_at >= to_timestamp($1 / 1000.0) and d.recorded_at <= to_timestamp($2 / 1000.0)`,
        [from, to],
      );
      const row = rows[0]!;
      lags.push({ name: result.name, events: Number(row.events), delivered: Number(row.delivered), p50: row.p50 ?? 0, p99: row.p99 ?? 0, max: row.max ?? 0 });
    }
    return lags;
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
