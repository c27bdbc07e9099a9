// Memory per entry of the entitlement cache (ENTITLEMENTS_CACHE_SIZE): the bench's seeded
// users (a monthly subscription renewed 9 times and a lifetime purchase each, as in run.ts)
// read through the service's own cache and use case, in this process, with the heap
// measured after a full garbage collection before and after the cache holds them; then the
// cache emptied and measured again. The answers' JSON, which the route keeps beside each
// entry, is held alongside. Needs --expose-gc:
//   node --expose-gc --import tsx bench/entitlements/cache-memory.ts [--users 5000] [--server postgres://...]

import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { openDatabase } from '../../src/db/client.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { identityEntitlementMap } from '../../src/entitlements/entitlement-map.js';
import { createEntitlementsRepository } from '../../src/entitlements/entitlements.repository.js';
import { createEntitlementsUsecase, type KeptAnswer } from '../../src/entitlements/entitlements.usecase.js';
import { createRecordsCache } from '../../src/entitlements/records-cache.js';
import { eachArgument } from '../common/arguments.js';
import { createBenchDatabase, DEFAULT_SERVER_URL } from '../common/database.js';
import { seed } from '../common/seed.js';

const RENEWALS_PER_USER = 9;

function parseArgs(argv: string[]): { users: number; server: string } {
  const options = { users: 5_000, server: process.env.BENCH_DATABASE_URL ?? DEFAULT_SERVER_URL };
  eachArgument(argv, (arg, value) => {
    if (arg === '--users') options.users = Number(value());
    else if (arg === '--server') options.server = value();
    else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const database = await createBenchDatabase(options.server);
  const handle = await openDatabase({ url: database.url, dataDir: 'memory://' });
  try {
    await migrateDatabase(handle);
    const { transactions } = await seed(database.url, { users: options.users, renewalsPerUser: RENEWALS_PER_USER });
    const cache = createRecordsCache<KeptAnswer>({ maxEntries: options.users, serving: true });
    const usecase = createEntitlementsUsecase({
      repository: createEntitlementsRepository({ database: handle }),
      cache,
      entitlementMap: identityEntitlementMap,
      clock: () => new Date(),
      logger: pino({ level: 'silent' }),
      refresh: null,
    });
    const users = Array.from({ length: options.users }, (_, i) => `u-${i + 1}`);
    // Warm: code, pools, prepared statements; then nothing held.
    for (const user of users.slice(0, 100)) await usecase.entitlementsOf(user, { refresh: 'never' });
    cache.invalidateAll();
    const empty = heapAfterGc();
    const started = performance.now();
    // The route keeps each answer's JSON beside it (entitlements.routes.ts): held here likewise.
    const bodies: string[] = [];
    for (const user of users) {
      const answer = await usecase.entitlementsOf(user, { refresh: 'never' });
      bodies.push(JSON.stringify({ userId: user, entitlements: answer.entitlements }));
    }
    const answerBytes = bodies.reduce((total, body) => total + body.length, 0);
    const filledIn = performance.now() - started;
    const full = heapAfterGc();
    const { size } = cache.stats();
    cache.invalidateAll();
    bodies.length = 0;
    const emptied = heapAfterGc();
    const perEntry = (full - empty) / size;
    process.stdout.write(
      [
        `users ${options.users} (${transactions} transactions), cached ${size}, filled in ${(filledIn / 1000).toFixed(1)} s`,
        `heap after gc: empty ${(empty / 1e6).toFixed(1)} MB, full ${(full / 1e6).toFixed(1)} MB, emptied again ${(emptied / 1e6).toFixed(1)} MB`,
        `per cached user, with its kept answer and that answer's JSON: ${(perEntry / 1024).toFixed(1)} KiB (the JSON alone: ${(answerBytes / size / 1024).toFixed(1)} KiB)`,
        `so ENTITLEMENTS_CACHE_SIZE=20000 holds ~${((perEntry * 20_000) / 1e6).toFixed(0)} MB, 100000 ~${((perEntry * 100_000) / 1e6).toFixed(0)} MB`,
        '',
      ].join('\n'),
    );
  } finally {
    await handle.close();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
