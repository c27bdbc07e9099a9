// The analytics routes at a million transactions: the entitlement benchmark's seeded
// database (bench/common/seed.ts: 100,000 users, a monthly subscription renewed 9
// times each plus a lifetime purchase), given prices, currencies, trials and refunds, then
// the analytics tables built by the migration's back-fill (analytics_rebuild(), timed), then
// each route and metric timed a few requests each through the real service (src/server.ts
// in its own process). Nothing is cached: every request is counted anew.
//
//   npx tsx bench/analytics/run.ts [--users 100000] [--requests 5] [--server postgres://...] [--keep]
//     [--reuse <database name kept by --keep>]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DEFAULT_ROOT_CERTIFICATE_PATH } from '../../src/apple/verifier/index.js';
import { withClient } from '../../test/helpers/database.js';
import { eachArgument } from '../common/arguments.js';
import { createBenchDatabase, DEFAULT_SERVER_URL, keptBenchDatabase } from '../common/database.js';
import { seed, seededServiceEnv } from '../common/seed.js';
import { machineDescription, startService } from '../common/service.js';

const ADMIN_KEY = 'bench-admin-key-0123456789';
const METRICS = ['new_subscriptions', 'renewals', 'expirations', 'refunds', 'trial_conversions', 'revenue'] as const;

interface Options {
  users: number;
  requests: number;
  server: string;
  keep: boolean;
  /** A database kept by an earlier --keep run: no seeding. */
  reuse: string | null;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { users: 100_000, requests: 5, server: DEFAULT_SERVER_URL, keep: false, reuse: null };
  eachArgument(argv, (arg, value) => {
    if (arg === '--users') options.users = Number(value());
    else if (arg === '--requests') options.requests = Number(value());
    else if (arg === '--server') options.server = value();
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--reuse') options.reuse = value();
    else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

/**
 * What the entitlement seed leaves out: every fourth subscription began with a week's free
 * trial (its first transaction), every fifth is sold in EUR, one in fifty had its last
 * renewal refunded; prices on every transaction.
 */
async function enrich(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`
      update transactions t set
        offer_type = case when x.trial then 1 end,
        offer_discount_type = case when x.trial then 'FREE_TRIAL' end,
        price = case when x.trial then 0 when t.product_type = 'Non-Consumable' then 49990 else 9990 end,
        currency = case when x.g % 5 = 0 then 'EUR' else 'USD' end,
        revocation_date = case when x.refunded then t.purchase_date + interval '3 days' end,
        revocation_type = case when x.refunded then 'REFUND_FULL' end,
        revocation_reason = case when x.refunded then 0 end
      from (select transaction_id,
                   split_part(transaction_id, '-', 2)::int as g,
                   (transaction_id like 's-%' and split_part(transaction_id, '-', 2)::int % 4 = 0 and split_part(transaction_id, '-', 3) = '0') as trial,
                   (transaction_id like 's-%' and split_part(transaction_id, '-', 2)::int % 50 = 1 and split_part(transaction_id, '-', 3) = '8') as refunded
            from transactions) x
      where x.transaction_id = t.transaction_id`);
    await client.query('vacuum analyze transactions');
  });
}

/** The migration's back-fill of the analytics tables (purchase_analytics, analytics_daily). */
async function rebuild(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('select analytics_rebuild()');
    await client.query('vacuum analyze purchase_analytics, analytics_daily');
  });
}

async function count(url: string): Promise<number> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ count: string }>('select count(*) from transactions');
    return Number(rows[0]?.count ?? 0);
  });
}

interface Timing {
  what: string;
  p50: number;
  max: number;
  detail: string;
}

function summarize(what: string, times: number[], detail: string): Timing {
  const sorted = [...times].sort((a, b) => a - b);
  return { what, p50: sorted[Math.floor((sorted.length - 1) / 2)]!, max: sorted.at(-1)!, detail };
}

async function timed<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [performance.now() - start, result];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const machine = await machineDescription(options.server);
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const database = options.reuse === null ? await createBenchDatabase(options.server) : keptBenchDatabase(options.server, options.reuse);
  const timings: Timing[] = [];
  let transactions = 0;
  let shed = 0;
  let rebuildMs: number | null = null;
  try {
    const service = await startService({
      databaseUrl: database.url,
      rootDer: readFileSync(DEFAULT_ROOT_CERTIFICATE_PATH),
      env: seededServiceEnv({ API_KEYS: 'bench-api-key-0123456789', ADMIN_API_KEYS: ADMIN_KEY }),
    });
    try {
      const started = Date.now();
      if (options.reuse === null) {
        ({ transactions } = await seed(database.url, { users: options.users, renewalsPerUser: 9 }));
        await enrich(database.url);
        process.stdout.write(`${transactions} transactions seeded in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
        // The seed writes behind the write side: the migration's back-fill builds the analytics tables.
        const [ms] = await timed(() => rebuild(database.url));
        rebuildMs = ms;
        process.stdout.write(`analytics_rebuild() (the migration's back-fill): ${(ms / 1000).toFixed(1)} s\n`);
      } else transactions = await count(database.url);

      // The service sheds load (503 UNDER_PRESSURE) when its event loop lags a second, which
      // this shared machine's load alone can cause: such answers are retried and counted.
      const get = async (path: string) => {
        for (let attempt = 1; ; attempt++) {
          const response = await fetch(`${service.baseUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
          const body = await response.text();
          if (response.status === 503 && attempt < 5) {
            shed++;
            await new Promise((resolve) => setTimeout(resolve, 500));
            continue;
          }
          if (response.status !== 200) throw new Error(`${path}: ${response.status} ${body}`);
          return JSON.parse(body) as Record<string, unknown>;
        }
      };
      // The data was written behind the service's back: a first, untimed round warms the
      // buffer cache and the service's JIT.
      await get('/admin/analytics/timeseries?metric=renewals&from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z&interval=month');

      // Every summary request counts at request time (no cache): each one is timed.
      const routeTimes: number[] = [];
      let answer: Record<string, unknown> = {};
      for (let i = 0; i < options.requests; i++) {
        const [ms, body] = await timed(() => get('/admin/analytics/summary'));
        routeTimes.push(ms);
        answer = body;
      }
      const active = answer.activeSubscriptions as { total: number };
      timings.push(summarize('GET /admin/analytics/summary', routeTimes, `${active.total} active subscriptions`));
      process.stdout.write(`summary: ${JSON.stringify(answer)}\n`);

      const to = new Date();
      const from = new Date(to.getTime() - 365 * 86_400_000);
      for (const metric of METRICS) {
        for (const [interval, environment] of [
          ['day', ''],
          ['week', ''],
          ['month', ''],
          ['day', 'Production'],
        ] as const) {
          const query = `metric=${metric}&from=${from.toISOString()}&to=${to.toISOString()}&interval=${interval}${environment ? `&environment=${environment}` : ''}`;
          const times: number[] = [];
          let points: unknown[] = [];
          for (let i = 0; i < options.requests; i++) {
            const [ms, body] = await timed(() => get(`/admin/analytics/timeseries?${query}`));
            times.push(ms);
            points = body.points as unknown[];
          }
          const sum = points.reduce<number>((acc, p) => acc + (((p as { value?: number }).value as number | undefined) ?? 0), 0);
          const timing = summarize(
            `timeseries ${metric}, 365 days by ${interval}${environment ? `, ${environment}` : ''}`,
            times,
            metric === 'revenue' ? `${points.length} points` : `${sum} counted`,
          );
          timings.push(timing);
          process.stdout.write(`${timing.what}: p50 ${timing.p50.toFixed(0)} ms, max ${timing.max.toFixed(0)} ms (${timing.detail})\n`);
        }
      }
    } finally {
      await service.stop();
    }
  } finally {
    if (!options.keep) await database.drop();
    else process.stdout.write(`kept database ${database.name}\n`);
  }
  const lines = [
    `analytics routes over ${transactions} transactions, ${options.requests} requests each, one at a time; machine: ${machine}; load average before: ${load}; ${new Date().toISOString()}; 503 UNDER_PRESSURE retried: ${shed}` +
      (rebuildMs === null ? '' : `; back-fill (analytics_rebuild) ${(rebuildMs / 1000).toFixed(1)} s`),
    '',
    '| request | p50 ms | max ms | answer |',
    '|---|---:|---:|---|',
    ...timings.map((t) => `| ${t.what} | ${t.p50.toFixed(0)} | ${t.max.toFixed(0)} | ${t.detail} |`),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
