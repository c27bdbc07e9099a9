// The service's garbage collection per `GET /entitlements/:userId`, in counts and bytes
// that do not depend on the machine's speed: the real service in its own process under
// V8's --trace-gc-nvp, a fixed number of requests, and V8's own lines of the scavenges and
// mark-compacts they caused: bytes allocated per request, scavenges per 10,000 requests,
// bytes each scavenge copied within the young generation and promoted to the old one, and
// the milliseconds V8 reports for each scavenge and its phases. Not a throughput
// benchmark: the load generator runs on the same machine; req/s is not reported.
//
//   npx tsx bench/entitlements/gc-trace.ts [--users 100000] [--requests 50000] [--rounds 2]
//     [--connections 32] [--skew] [--database <kept name>] [--keep] [--dist]
//     [--env KEY=VALUE ...] [--node-arg --max-semi-space-size=64 ...] [--lines <file>]
//
// The default load is run.ts's large one: 100,000 users (1M transactions), the default
// cache, and with --skew 80 % of reads on the hot fifth of the users. --database reuses a
// database an earlier run kept (--keep): seeding and the answers' baseline take minutes.
// --lines appends the measured rounds' output (V8's lines as printed) to <file>.
import { appendFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { eachArgument, positiveNumber } from '../common/arguments.js';
import { keyValue } from '../common/own-cluster.js';
import { allAnswered, BENCH_API_KEY, metricSums, withSeededService } from '../common/seeded-service.js';

interface Options {
  users: number;
  requests: number;
  rounds: number;
  connections: number;
  skew: boolean;
  database: string | null;
  keep: boolean;
  dist: boolean;
  env: Record<string, string>;
  nodeArgs: string[];
  /** Where to write the measured rounds' GC lines as V8 printed them; null for nowhere. */
  linesFile: string | null;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    users: 100_000,
    requests: 50_000,
    rounds: 2,
    connections: 32,
    skew: false,
    database: null,
    keep: false,
    dist: false,
    env: {},
    nodeArgs: [],
    linesFile: null,
  };
  eachArgument(argv, (arg, value) => {
    if (arg === '--users') options.users = positiveNumber(arg, value(), true);
    else if (arg === '--requests') options.requests = positiveNumber(arg, value(), true);
    else if (arg === '--rounds') options.rounds = positiveNumber(arg, value(), true);
    else if (arg === '--connections') options.connections = positiveNumber(arg, value(), true);
    else if (arg === '--skew') options.skew = true;
    else if (arg === '--database') options.database = value();
    else if (arg === '--keep') options.keep = true;
    else if (arg === '--dist') options.dist = true;
    else if (arg === '--node-arg') options.nodeArgs.push(value());
    else if (arg === '--lines') options.linesFile = value();
    else if (arg === '--env') {
      const [key, setting] = keyValue(value());
      options.env[key] = setting;
    } else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

/** run.ts's users: every one alike, or 80 % of reads on the first fifth. */
function userPath(users: number, skew: boolean): string {
  if (!skew) return `/entitlements/u-${1 + Math.floor(Math.random() * users)}`;
  const hot = Math.max(1, Math.floor(users / 5));
  const index = Math.random() < 0.8 ? Math.floor(Math.random() * hot) : hot + Math.floor(Math.random() * (users - hot));
  return `/entitlements/u-${1 + Math.min(index, users - 1)}`;
}

async function drive(baseUrl: string, options: Options, amount: number): Promise<void> {
  allAnswered(
    await autocannon({
      url: baseUrl,
      connections: options.connections,
      amount,
      headers: { authorization: `Bearer ${BENCH_API_KEY}` },
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: userPath(options.users, options.skew) }) }],
    }),
  );
}

/** The cache's hits and misses so far, from /metrics (summed over apps). */
async function cacheCounts(baseUrl: string): Promise<{ hits: number; misses: number }> {
  const sums = await metricSums(baseUrl, ['ase_entitlements_cache_hits_total', 'ase_entitlements_cache_misses_total']);
  return { hits: sums.ase_entitlements_cache_hits_total, misses: sums.ase_entitlements_cache_misses_total };
}

/** One --trace-gc-nvp line: its kind (s: scavenge, mc: mark-compact, ...) and its name=value fields. */
interface GcLine {
  kind: string;
  fields: Map<string, number>;
}

function gcLines(output: string): GcLine[] {
  const lines: GcLine[] = [];
  for (const line of output.split('\n')) {
    const kind = / gc=(\w+) /.exec(line)?.[1];
    if (kind === undefined) continue;
    const fields = new Map<string, number>();
    for (const [, name, value] of line.matchAll(/ ([\w.]+)=([\d.]+)%?/g)) fields.set(name!, Number(value));
    lines.push({ kind, fields });
  }
  return lines;
}

const PHASES = ['scavenge.roots', 'scavenge.parallel', 'background.scavenge.parallel', 'scavenge.update_refs', 'scavenge.weak', 'scavenge.free_remembered_set'];

function summary(lines: GcLine[], requests: number): string {
  const scavenges = lines.filter((line) => line.kind === 's');
  const others = lines.filter((line) => line.kind !== 's');
  const total = (of: GcLine[], field: string) => of.reduce((sum, line) => sum + (line.fields.get(field) ?? 0), 0);
  const mean = (of: GcLine[], field: string) => (of.length === 0 ? 0 : total(of, field) / of.length);
  const kb = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
  const pauses = scavenges.map((line) => line.fields.get('pause') ?? 0).sort((a, b) => a - b);
  const percentile = (p: number) => (pauses.length === 0 ? 0 : pauses[Math.min(pauses.length - 1, Math.floor(p * pauses.length))]!);
  return [
    `  allocated ${kb(total(lines, 'allocated') / requests)} per request (V8's allocated= over every GC)`,
    `  scavenges ${scavenges.length} (${((scavenges.length * 10_000) / requests).toFixed(1)} per 10,000 requests), other GCs ${others.length} (${others.map((line) => line.kind).join(' ') || 'none'})`,
    `  per scavenge: allocated before it ${kb(mean(scavenges, 'allocated'))}, copied within the young generation ${kb(mean(scavenges, 'new_space_survived'))}, promoted ${kb(mean(scavenges, 'promoted'))}`,
    `  scavenge pause ms: mean ${mean(scavenges, 'pause').toFixed(2)}, median ${percentile(0.5).toFixed(2)}, p90 ${percentile(0.9).toFixed(2)}, max ${(pauses.at(-1) ?? 0).toFixed(2)}; total ${total(scavenges, 'pause').toFixed(0)} ms (${((total(scavenges, 'pause') * 1000) / requests).toFixed(1)} µs per request)`,
    `  scavenge phases, mean ms: ${PHASES.map((phase) => `${phase} ${mean(scavenges, phase).toFixed(2)}`).join(', ')}`,
    `  other GCs' pause total ${total(others, 'pause').toFixed(0)} ms`,
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  await withSeededService({ ...options, nodeArgs: ['--trace-gc-nvp', ...options.nodeArgs] }, async (service) => {
    // Warm-up: code, pool, prepared statements, and the cache filled as the load fills it.
    await drive(service.baseUrl, options, Math.max(options.requests, 30_000));
    for (let round = 1; round <= options.rounds; round++) {
      const before = await cacheCounts(service.baseUrl);
      const from = service.process.output().length;
      await drive(service.baseUrl, options, options.requests);
      const output = service.process.output().slice(from);
      const lines = gcLines(output);
      if (options.linesFile !== null) appendFileSync(options.linesFile, output);
      const after = await cacheCounts(service.baseUrl);
      const misses = after.misses - before.misses;
      const hits = after.hits - before.hits;
      process.stdout.write(
        `round ${round}: ${options.requests} requests, ${misses} cache misses (${((100 * misses) / Math.max(1, hits + misses)).toFixed(0)} %)\n${summary(lines, options.requests)}\n`,
      );
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
