// GET /entitlements/:userId under load: the real service (src/server.ts in its own
// process, PostgreSQL on 127.0.0.1:5432) over 100,000 users / 1,000,000 transactions,
// and over 1,000 users / 10,000 transactions for the latency ratio.
//
//   npx tsx bench/entitlements/run.ts [--duration 20] [--connections 32] [--keep]
//     [--only small|large] [--env KEY=VALUE ...] [--node-arg --cpu-prof ...]
import { readFileSync } from 'node:fs';
import autocannonModule from 'autocannon';
import { DEFAULT_ROOT_CERTIFICATE_PATH } from '../../src/apple/verifier/index.js';
import { cpuMeter } from '../common/cpu.js';
import { createBenchDatabase, machineDescription, startService } from '../common/service.js';
import { seed } from './seed.js';

const API_KEY = 'bench-api-key';

function repeated(name: string): string[] {
  const values: string[] = [];
  process.argv.forEach((arg, index) => {
    if (arg === `--${name}` && index + 1 < process.argv.length) values.push(process.argv[index + 1]!);
  });
  return values;
}

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

interface Result {
  label: string;
  transactions: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU microseconds per request: service, PostgreSQL backends, load generator. */
  cpuUs: { service: number; postgres: number; generator: number };
}

// autocannon ships no types (and bench/ingest declares only the slice it uses): the
// part used here is typed locally.
interface LoadResult {
  requests: { total: number; average: number };
  latency: { p50: number; p90?: number; p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type RawRequest = { method: string; path: string } & Record<string, unknown>;
const autocannon = autocannonModule as unknown as (options: Record<string, unknown>) => Promise<LoadResult>;

async function load(baseUrl: string, users: number, duration: number, connections: number): Promise<LoadResult> {
  return autocannon({
    url: baseUrl,
    connections,
    duration,
    headers: { authorization: `Bearer ${API_KEY}` },
    requests: [
      {
        method: 'GET',
        // A random user per request: no answer is served warm from one hot row.
        setupRequest: (request: RawRequest) => ({ ...request, path: `/entitlements/u-${1 + Math.floor(Math.random() * users)}` }),
      },
    ],
  });
}

interface Options {
  duration: number;
  connections: number;
  keep: boolean;
  env: Record<string, string>;
  nodeArgs: string[];
}

async function scenario(label: string, users: number, renewals: number, options: Options): Promise<Result> {
  const database = await createBenchDatabase();
  try {
    process.stdout.write(`[${label}] migrating and seeding ${database.name} ... `);
    const service = await startService({
      databaseUrl: database.url,
      rootDer: readFileSync(DEFAULT_ROOT_CERTIFICATE_PATH),
      env: {
        APPLE_BUNDLE_ID: 'com.example.app',
        APPLE_APP_APPLE_ID: '1234567890',
        API_KEYS: API_KEY,
        // The default (60,000 per minute per key) would cap one key at 1,000 req/s.
        RATE_LIMIT_API_PER_MINUTE: '0',
        ...options.env,
      },
      nodeArgs: options.nodeArgs,
    });
    try {
      const started = Date.now();
      const { transactions } = await seed(database.url, { users, renewalsPerUser: renewals });
      process.stdout.write(`${transactions} transactions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

      // Sanity check, then warm up (JIT, pool, prepared statements, buffer cache).
      const probe = await fetch(`${service.baseUrl}/entitlements/u-1`, { headers: { authorization: `Bearer ${API_KEY}` } });
      const body = (await probe.json()) as { entitlements?: unknown[] };
      if (probe.status !== 200 || body.entitlements?.length !== 2) throw new Error(`unexpected probe answer ${probe.status} ${JSON.stringify(body)}`);
      await load(service.baseUrl, users, 5, options.connections);

      const meter = cpuMeter(service.process.child.pid!, database.url, database.name);
      const before = await meter.read();
      const result = await load(service.baseUrl, users, options.duration, options.connections);
      const after = await meter.read();
      const perRequest = (key: keyof typeof before) => ((after[key] - before[key]) * 1e6) / Math.max(result.requests.total, 1);
      return {
        label,
        transactions,
        requests: result.requests.total,
        rps: result.requests.average,
        p50: result.latency.p50,
        p90: result.latency.p90 ?? Number.NaN,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
        cpuUs: { service: perRequest('service'), postgres: perRequest('postgres'), generator: perRequest('generator') },
      };
    } finally {
      await service.stop();
    }
  } finally {
    if (!options.keep) await database.drop();
    else process.stdout.write(`[${label}] kept database ${database.name}\n`);
  }
}

async function main(): Promise<void> {
  const options: Options = {
    duration: option('duration', 20),
    connections: option('connections', 32),
    keep: process.argv.includes('--keep'),
    env: Object.fromEntries(repeated('env').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
    nodeArgs: repeated('node-arg'),
  };
  const only = repeated('only')[0];
  if (only !== undefined && only !== 'small' && only !== 'large') throw new Error('--only must be small or large');
  const machine = await machineDescription();
  const results: Result[] = [];
  if (only !== 'large') results.push(await scenario('10k transactions', 1_000, 9, options));
  if (only !== 'small') results.push(await scenario('1M transactions', 100_000, 9, options));
  const small = results.find((r) => r.label.startsWith('10k'));
  const large = results.find((r) => r.label.startsWith('1M'));

  const lines = [
    `GET /entitlements/:userId, random users, ${options.connections} connections, ${options.duration} s, autocannon on the same machine`,
    `machine: ${machine}`,
    '',
    '| data | requests | req/s | p50 ms | p90 ms | p99 ms | non-2xx | errors | CPU µs/request: service + PostgreSQL + generator |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.label} (${r.transactions}) | ${r.requests} | ${Math.round(r.rps)} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.non2xx} | ${r.errors} | ` +
        `${Math.round(r.cpuUs.service)} + ${Math.round(r.cpuUs.postgres)} + ${Math.round(r.cpuUs.generator)} |`,
    ),
    '',
  ];
  if (large !== undefined) {
    lines.push(`targets at 1M: >= 5000 req/s ${large.rps >= 5000 ? 'met' : 'MISSED'}; p99 < 10 ms ${large.p99 < 10 ? 'met' : 'MISSED'}`);
  }
  if (small !== undefined && large !== undefined) {
    const ratio = large.p99 / Math.max(small.p99, 0.001);
    lines.push(`latency ratio 1M / 10k: p50 ${(large.p50 / Math.max(small.p50, 0.001)).toFixed(2)}, p99 ${ratio.toFixed(2)} (<= 1.5 ${ratio <= 1.5 ? 'met' : 'MISSED'})`);
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
