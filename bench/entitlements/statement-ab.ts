// A/B of the entitlement read's statement alone: the purchases-only statement (before
// grants and AppTransactions) against the full one, alternated in the same process over
// the same seeded database, groups of `--group` random users per execution (the
// repository's grouped read). Prints the mean and p50/p99 per execution for each.
//
//   npx tsx bench/entitlements/statement-ab.ts [--users 100000] [--rounds 4] [--executions 2000] [--group 8] [--grants 0.1]
//
// --grants: the share of users given one grant and one AppTransaction (0 = none), to see
// the cost when the extra rows exist too.
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { PURCHASES_ONLY, RECORDS_OF_USERS } from '../../src/entitlements/entitlements.repository.js';
import { createBenchDatabase, DEFAULT_SERVER_URL } from '../common/database.js';
import { seed } from '../common/seed.js';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : Number(process.argv[index + 1]);
}

const users = option('users', 100_000);
const rounds = option('rounds', 4);
const executions = option('executions', 2_000);
const group = option('group', 8);
const grantShare = option('grants', 0);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

async function main() {
  const bench = await createBenchDatabase(DEFAULT_SERVER_URL);
  const handle = await openDatabase({ url: bench.url, dataDir: 'memory://', poolMax: 1 });
  try {
    await migrateDatabase(handle);
    await seed(bench.url, { users, renewalsPerUser: 9 });
    if (grantShare > 0) {
      const every = Math.max(1, Math.round(1 / grantShare));
      await handle.db.execute(
        sql.raw(`insert into grants (id, user_id, entitlement, starts_at, expires_date, reason, granted_by, updated_at)
           select 'grt_' || g, 'u-' || g, 'pro', now(), now() + interval '30 days', 'bench', 'bench', now()
           from generate_series(1, ${users}, ${every}) g`),
      );
      await handle.db.execute(
        sql.raw(`insert into app_transactions (user_id, bundle_id, environment, original_application_version, signed_date, signed_app_transaction, updated_at)
           select 'u-' || g, 'com.example.app', 'Production', '1.0', now(), 'jws', now()
           from generate_series(1, ${users}, ${every}) g`),
      );
    }
    await handle.db.execute(sql.raw('analyze'));
    const statements = { before: PURCHASES_ONLY, after: RECORDS_OF_USERS };
    const times: Record<string, number[]> = { before: [], after: [] };
    const randomGroup = () => Array.from({ length: group }, () => `u-${1 + Math.floor(Math.random() * users)}`);
    for (let round = 0; round < rounds; round++) {
      for (const label of round % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
        const name = `ab_${label}`;
        for (let i = 0; i < 200; i++) await handle.queryArrays({ name, text: statements[label], values: [randomGroup()] }); // warm-up
        for (let i = 0; i < executions; i++) {
          const start = performance.now();
          await handle.queryArrays({ name, text: statements[label], values: [randomGroup()] });
          times[label]!.push(performance.now() - start);
        }
      }
    }
    for (const [label, list] of Object.entries(times)) {
      const sorted = [...list].sort((a, b) => a - b);
      const mean = list.reduce((a, b) => a + b, 0) / list.length;
      console.log(
        `${label.padEnd(6)} executions=${list.length} mean=${mean.toFixed(3)} ms p50=${percentile(sorted, 0.5).toFixed(3)} ms p99=${percentile(sorted, 0.99).toFixed(3)} ms`,
      );
    }
  } finally {
    await handle.close();
    await bench.drop();
  }
}

await main();
