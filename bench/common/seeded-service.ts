// The entitlement benches' setting: the real service, in its own process, on a database of
// seeded users (a new one, or one an earlier run kept), with the answers' baseline settled.
import { readFileSync } from 'node:fs';
import { DEFAULT_ROOT_CERTIFICATE_PATH } from '../../src/apple/verifier/index.js';
import type { ServerDatabase } from '../../test/helpers/database.js';
import { settleAnswers } from './answers.js';
import { createBenchDatabase, DEFAULT_SERVER_URL, keptBenchDatabase } from './database.js';
import { seed, seededServiceEnv } from './seed.js';
import { type StartedService, startService } from './service.js';

/** The bearer key the benches' service takes. */
export const BENCH_API_KEY = 'bench-api-key-0123456789';

export interface SeededServiceOptions {
  /** The PostgreSQL server the bench database lives on. */
  server?: string;
  /** A database an earlier run kept (seeded, settled): used as it is. Null: a new one, seeded. */
  database: string | null;
  /** Keep the new database (its name is printed) instead of dropping it. */
  keep: boolean;
  users: number;
  renewalsPerUser?: number;
  /** Added to the seeded data's settings (seededServiceEnv), with the bench key. */
  env: Record<string, string>;
  nodeArgs?: string[];
  dist: boolean;
  /** Prefixes the progress lines. */
  label?: string;
}

export interface SeededDatabase {
  database: ServerDatabase;
  /** Transactions seeded by this run; null on a kept database. */
  transactions: number | null;
}

/**
 * Runs `work` against the service on a seeded database, then stops the service and drops
 * the database (unless kept). A new database is seeded after the service has migrated it,
 * and `work` starts once every seeded user's answer is recorded.
 */
export async function withSeededService<T>(options: SeededServiceOptions, work: (service: StartedService, seeded: SeededDatabase) => Promise<T>): Promise<T> {
  const server = options.server ?? DEFAULT_SERVER_URL;
  const prefix = options.label === undefined ? '' : `[${options.label}] `;
  const database = options.database === null ? await createBenchDatabase(server) : keptBenchDatabase(server, options.database);
  try {
    const service = await startService({
      databaseUrl: database.url,
      rootDer: readFileSync(DEFAULT_ROOT_CERTIFICATE_PATH),
      env: seededServiceEnv({ API_KEYS: BENCH_API_KEY, ...options.env }),
      nodeArgs: options.nodeArgs,
      dist: options.dist,
    });
    try {
      let transactions: number | null = null;
      if (options.database === null) {
        process.stdout.write(`${prefix}seeding ${options.users} users into ${database.name} ... `);
        const started = Date.now();
        ({ transactions } = await seed(database.url, { users: options.users, renewalsPerUser: options.renewalsPerUser ?? 9 }));
        process.stdout.write(`${transactions} transactions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      }
      const settled = await settleAnswers(database.url, { restart: options.database === null });
      process.stdout.write(`${prefix}answers baseline: ${settled.users} users in ${settled.seconds.toFixed(1)} s\n`);
      return await work(service, { database, transactions });
    } finally {
      await service.stop();
    }
  } finally {
    if (options.keep || options.database !== null) process.stdout.write(`${prefix}kept database ${database.name}\n`);
    else await database.drop();
  }
}

/** Throws unless every request of an autocannon run was answered 2xx. */
export function allAnswered<R extends { non2xx: number; errors: number; timeouts: number }>(result: R): R {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`failed requests: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return result;
}

/** Each named metric of the service's /metrics, summed over its label sets (0 when absent). */
export async function metricSums<N extends string>(baseUrl: string, names: readonly N[]): Promise<Record<N, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const sums = Object.fromEntries(names.map((name) => [name, 0])) as Record<N, number>;
  for (const line of text.split('\n')) {
    for (const name of names) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sums[name] += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sums;
}
