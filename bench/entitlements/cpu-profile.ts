// The service's CPU per `GET /entitlements/:userId` cache hit, at low scale: a small seeded
// database (every user fits the in-process cache), the real service in its own process, a
// fixed number of requests over users already read once (so every measured request is a
// cache hit), and the service's CPU time (user + system, from /proc) divided by the
// requests. For profiling changes to the read path, not for throughput: the load
// generator runs on the same machine and the numbers are CPU, not req/s.
//
//   npx tsx bench/entitlements/cpu-profile.ts [--users 2000] [--requests 60000] [--rounds 3]
//     [--connections 16] [--database <kept name>] [--keep] [--dist] [--env KEY=VALUE ...]
//     [--cpu-prof <dir>]
//
// --database reuses a database an earlier run kept (--keep), so that runs of two trees of
// the code can alternate on the same data. --cpu-prof writes a V8 CPU profile of the
// service (one per service start) into <dir>, to open in Chrome's DevTools (or any viewer
// of .cpuprofile files).
import path from 'node:path';
import autocannon from 'autocannon';
import { eachArgument, positiveNumber } from '../common/arguments.js';
import { cpuSecondsOf } from '../common/cpu.js';
import { keyValue } from '../common/own-cluster.js';
import { allAnswered, BENCH_API_KEY, withSeededService } from '../common/seeded-service.js';

interface Options {
  users: number;
  requests: number;
  rounds: number;
  connections: number;
  database: string | null;
  keep: boolean;
  dist: boolean;
  env: Record<string, string>;
  cpuProfDir: string | null;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    users: 2_000,
    requests: 60_000,
    rounds: 3,
    connections: 16,
    database: null,
    keep: false,
    dist: false,
    env: {},
    cpuProfDir: null,
  };
  eachArgument(argv, (arg, value) => {
    if (arg === '--users') options.users = positiveNumber(arg, value(), true);
    else if (arg === '--requests') options.requests = positiveNumber(arg, value(), true);
    else if (arg === '--rounds') options.rounds = positiveNumber(arg, value(), true);
    else if (arg === '--connections') options.connections = positiveNumber(arg, value(), true);
    else if (arg === '--database') options.database = value();
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--dist') options.dist = true;
    else if (arg === '--cpu-prof') options.cpuProfDir = path.resolve(value());
    else if (arg === '--env') {
      const [key, setting] = keyValue(value());
      options.env[key] = setting;
    } else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

/** Exactly `amount` requests, the users in turn: after one pass every answer is cached. */
async function drive(baseUrl: string, users: number, amount: number, connections: number) {
  let next = 0;
  return allAnswered(
    await autocannon({
      url: baseUrl,
      connections,
      amount,
      headers: { authorization: `Bearer ${BENCH_API_KEY}` },
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/entitlements/u-${1 + (next++ % users)}` }) }],
    }),
  );
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const nodeArgs = options.cpuProfDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`];
  await withSeededService({ ...options, nodeArgs }, async (service) => {
    const probe = await fetch(`${service.baseUrl}/entitlements/u-1`, { headers: { authorization: `Bearer ${BENCH_API_KEY}` } });
    if (probe.status !== 200) throw new Error(`unexpected probe answer ${probe.status} ${await probe.text()}`);
    // Every user read once (cached from then on), then a warm-up for the JIT.
    await drive(service.baseUrl, options.users, options.users, options.connections);
    await drive(service.baseUrl, options.users, Math.min(options.requests, 20_000), options.connections);
    const pid = service.process.child.pid!;
    const perRequest: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const before = cpuSecondsOf(pid);
      const result = await drive(service.baseUrl, options.users, options.requests, options.connections);
      const cpu = cpuSecondsOf(pid) - before;
      perRequest.push((cpu * 1e6) / result.requests.total);
      process.stdout.write(
        `round ${round}: ${result.requests.total} requests, service CPU ${cpu.toFixed(2)} s, ${perRequest.at(-1)!.toFixed(1)} µs/request (${Math.round(result.requests.average)} req/s)\n`,
      );
    }
    const sorted = [...perRequest].sort((a, b) => a - b);
    process.stdout.write(
      `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs/request (range ${sorted[0]!.toFixed(1)}–${sorted.at(-1)!.toFixed(1)})\n`,
    );
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
