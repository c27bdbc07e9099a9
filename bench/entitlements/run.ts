// GET /entitlements/:userId under load: the real service (src/server.ts in its own
// process) over 100,000 users / 1,000,000 transactions, and over 1,000 users / 10,000
// transactions for the latency ratio. Per data set: a closed-loop saturation run with
// autocannon (the most the machine serves), then open-loop runs at fixed offered rates
// (requests at evenly spaced instants, latency from the instant each was due: what an app
// backend sending that many requests per second sees). Beside each open-loop run, how late
// the service's event loop ran (its /metrics, reset just before) and the generator's: a
// tail with the service's loop on time and the generator's late is the generator's.
//
//   npx tsx bench/entitlements/run.ts [--duration 10] [--connections 32] [--rate 4000,5000]
//     [--repeat 3] [--skew] [--warm-up 5]
//     [--server postgres://... | --own-cluster shared_buffers=1GB ...] [--only small|large]
//     [--keep] [--database <kept name>] [--service-output <file>] [--dist]
//     [--env KEY=VALUE ...] [--node-arg --cpu-prof ...]
//
// --dist runs the compiled dist/server.js (what the Docker image runs; `npm run build` first),
// which WORKERS needs; without it, src/server.ts under tsx.
//
// --skew: 80 % of reads ask for 20 % of the users (the hot fifth, u-1 … u-<users/5>), the
// rest for the other users, as an app's launches do; without it every user is as likely.
// The in-process cache (ENTITLEMENTS_CACHE_SIZE, `--env ENTITLEMENTS_CACHE_SIZE=0` to
// measure without it) serves repeated users without a database round trip.
//
// --warm-up: seconds of closed loop before the measured rounds (default 5), with the
// measured rounds' choice of users. A cache of 50,000 users (the default) is not full after
// 5 s and an 8 s round at ~5,000 req/s: a hot user has been read about twice. Give it 20 s
// to measure the steady state.
//
// --database runs the large data set on a database an earlier run kept (--keep, --only
// large), so that runs with different settings skip the minutes of seeding.
//
// --service-output writes what the service printed (stdout and stderr; with `--node-arg
// --trace-gc`, V8's line per collection) to <file> after each data set's runs; the last
// data set run (the large one, unless --only small) is what stays.
//
// --own-cluster runs on a throwaway PostgreSQL cluster (initdb in a temp directory) with
// the given settings instead of the server on 127.0.0.1:5432.
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { eachArgument, positiveNumber } from '../common/arguments.js';
import { type CpuMeter, cpuMeter } from '../common/cpu.js';
import { DEFAULT_SERVER_URL } from '../common/database.js';
import { machineReference } from '../common/machine-reference.js';
import { lateness, runOpenLoop } from '../common/open-loop.js';
import { keyValue, settingsText, startOwnCluster } from '../common/own-cluster.js';
import { BENCH_API_KEY, metricSums, withSeededService } from '../common/seeded-service.js';
import { machineDescription } from '../common/service.js';

const RENEWALS_PER_USER = 9;
const LARGE_USERS = 100_000;

interface Options {
  duration: number;
  /** Seconds of closed loop before the measured rounds. */
  warmUp: number;
  connections: number;
  rates: number[];
  /** Rounds of (closed loop, open loop at each rate) per data set. */
  repeat: number;
  server: string;
  /** Settings of a throwaway cluster to run on instead of `server`; null for none. */
  ownCluster: Record<string, string> | null;
  only: 'small' | 'large' | null;
  keep: boolean;
  /** A kept database with the large data set to run on; null to seed a new one. */
  database: string | null;
  /** Where to write the service's output after each data set's runs; null for nowhere. */
  serviceOutput: string | null;
  env: Record<string, string>;
  nodeArgs: string[];
  /** 80 % of reads on 20 % of the users. */
  skew: boolean;
  /** Run dist/server.js instead of src/server.ts under tsx. */
  dist: boolean;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    duration: 10,
    warmUp: 5,
    connections: 32,
    rates: [4000, 5000],
    repeat: 3,
    server: DEFAULT_SERVER_URL,
    ownCluster: null,
    only: null,
    keep: false,
    database: null,
    serviceOutput: null,
    env: {},
    nodeArgs: [],
    skew: false,
    dist: false,
  };
  eachArgument(argv, (arg, value) => {
    if (arg === '--duration') options.duration = positiveNumber(arg, value());
    else if (arg === '--warm-up') options.warmUp = positiveNumber(arg, value());
    else if (arg === '--connections') options.connections = positiveNumber(arg, value());
    else if (arg === '--rate')
      options.rates = value()
        .split(',')
        .map((rate) => positiveNumber(arg, rate));
    else if (arg === '--server') options.server = value();
    else if (arg === '--repeat') options.repeat = positiveNumber(arg, value());
    else if (arg === '--own-cluster') {
      const [key, setting] = keyValue(value());
      options.ownCluster = { ...options.ownCluster, [key]: setting };
    } else if (arg === '--keep') options.keep = true;
    else if (arg === '--database') options.database = value();
    else if (arg === '--service-output') options.serviceOutput = value();
    else if (arg === '--skew') options.skew = true;
    else if (arg === '--dist') options.dist = true;
    else if (arg === '--node-arg') options.nodeArgs.push(value());
    else if (arg === '--only') {
      const only = value();
      if (only !== 'small' && only !== 'large') throw new Error('--only must be small or large');
      options.only = only;
    } else if (arg === '--env') {
      const [key, setting] = keyValue(value());
      options.env[key] = setting;
    } else throw new Error(`unknown argument ${arg}`);
  });
  return options;
}

interface Run {
  round: number;
  mode: string;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  /** Open loop: how late the service's and the generator's event loops ran (p99 / max ms beyond their sampling intervals); null for a closed loop. */
  loopDelay: { service: LoopDelay; generator: LoopDelay } | null;
  /** CPU microseconds per request: service, PostgreSQL backends, load generator; and how long the service's event loop waited for a core meanwhile. */
  cpuUs: { service: number; postgres: number; generator: number; serviceWaiting: number };
}

interface LoopDelay {
  p99: number;
  max: number;
}

/** prom-client's event-loop delay sampling interval (its default, which the service keeps). */
const SERVICE_LOOP_RESOLUTION_MS = 10;

/**
 * How late the service's event loop ran since the last /metrics scrape (prom-client resets
 * its event-loop histogram at every scrape), beyond its sampling interval.
 */
async function serviceLoopDelay(baseUrl: string): Promise<LoopDelay> {
  const sums = await metricSums(baseUrl, ['nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds']);
  return {
    p99: lateness(sums.nodejs_eventloop_lag_p99_seconds * 1e9, SERVICE_LOOP_RESOLUTION_MS),
    max: lateness(sums.nodejs_eventloop_lag_max_seconds * 1e9, SERVICE_LOOP_RESOLUTION_MS),
  };
}

interface Scenario {
  label: string;
  transactions: number;
  runs: Run[];
  /** The service's memory and cache after the last run, from its /metrics; null when unreadable. */
  memory: ServiceMemory | null;
}

interface ServiceMemory {
  rssBytes: number;
  heapUsedBytes: number;
  cacheEntries: number;
  cacheHits: number;
  cacheMisses: number;
}

/** The service's resident and heap memory and its cache's entries and hit counts, from /metrics (summed over apps). */
async function serviceMemory(baseUrl: string): Promise<ServiceMemory | null> {
  try {
    const sums = await metricSums(baseUrl, [
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'ase_entitlements_cache_entries',
      'ase_entitlements_cache_hits_total',
      'ase_entitlements_cache_misses_total',
    ]);
    return {
      rssBytes: sums.process_resident_memory_bytes,
      heapUsedBytes: sums.nodejs_heap_size_used_bytes,
      cacheEntries: sums.ase_entitlements_cache_entries,
      cacheHits: sums.ase_entitlements_cache_hits_total,
      cacheMisses: sums.ase_entitlements_cache_misses_total,
    };
  } catch {
    return null;
  }
}

/** A random user per request: no answer is served warm from one hot row. */
const randomUserPath = (users: number) => `/entitlements/u-${1 + Math.floor(Math.random() * users)}`;

/** 80 % of requests for the first fifth of the users, 20 % for the other four fifths. */
function skewedUserPath(users: number): string {
  const hot = Math.max(1, Math.floor(users / 5));
  const index = Math.random() < 0.8 ? Math.floor(Math.random() * hot) : hot + Math.floor(Math.random() * (users - hot));
  return `/entitlements/u-${1 + Math.min(index, users - 1)}`;
}

let userPath = randomUserPath;

async function closedLoop(baseUrl: string, users: number, duration: number, connections: number) {
  return autocannon({
    url: baseUrl,
    connections,
    duration,
    headers: { authorization: `Bearer ${BENCH_API_KEY}` },
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: userPath(users) }) }],
  });
}

async function measured(meter: CpuMeter, work: () => Promise<Omit<Run, 'cpuUs'>>): Promise<Run> {
  const before = await meter.read();
  const run = await work();
  const after = await meter.read();
  const per = (key: keyof typeof before) => ((after[key] - before[key]) * 1e6) / Math.max(run.requests, 1);
  return { ...run, cpuUs: { service: per('service'), postgres: per('postgres'), generator: per('generator'), serviceWaiting: per('serviceWaiting') } };
}

async function scenario(label: string, users: number, options: Options): Promise<Scenario> {
  const kept = users === LARGE_USERS ? options.database : null;
  return withSeededService({ ...options, database: kept, users, renewalsPerUser: RENEWALS_PER_USER, label }, async (service, { database, transactions }) => {
    // Sanity check, then warm up (JIT, pool, prepared statements, buffer cache).
    const probe = await fetch(`${service.baseUrl}/entitlements/u-1`, { headers: { authorization: `Bearer ${BENCH_API_KEY}` } });
    const body = (await probe.json()) as { entitlements?: unknown[] };
    if (probe.status !== 200 || body.entitlements?.length !== 2) throw new Error(`unexpected probe answer ${probe.status} ${JSON.stringify(body)}`);
    await closedLoop(service.baseUrl, users, options.warmUp, options.connections);

    const meter = cpuMeter(service.process.child.pid!, database.url, database.name);
    const runs: Run[] = [];
    // This machine's speed drifts with its host's load; rounds taken in turn show the
    // spread, and the targets are judged on the median round.
    for (let round = 1; round <= options.repeat; round++) {
      runs.push(
        await measured(meter, async () => {
          const result = await closedLoop(service.baseUrl, users, options.duration, options.connections);
          return {
            round,
            mode: `closed loop, ${options.connections} connections`,
            requests: result.requests.total,
            rps: result.requests.average,
            p50: result.latency.p50,
            p90: result.latency.p90,
            p99: result.latency.p99,
            max: result.latency.max,
            non2xx: result.non2xx,
            errors: result.errors + result.timeouts,
            loopDelay: null,
          };
        }),
      );
      process.stdout.write(`[${label}] round ${round} saturation: ${Math.round(runs.at(-1)!.rps)} req/s\n`);
      for (const rate of options.rates) {
        runs.push(
          await measured(meter, async () => {
            await serviceLoopDelay(service.baseUrl); // resets the service's event-loop histogram
            const result = await runOpenLoop({
              baseUrl: service.baseUrl,
              count: Math.round(rate * options.duration),
              request: () => ({ method: 'GET', path: userPath(users), headers: { authorization: `Bearer ${BENCH_API_KEY}` } }),
              ratePerSecond: rate,
              connections: 128,
            });
            return {
              round,
              mode: `open loop, ${rate}/s offered`,
              requests: result.sent,
              rps: result.ok / result.seconds,
              ...result.latency,
              non2xx: result.non2xx,
              errors: result.errors,
              loopDelay: { service: await serviceLoopDelay(service.baseUrl), generator: result.generatorDelay },
            };
          }),
        );
        process.stdout.write(`[${label}] round ${round} open loop ${rate}/s: p99 ${runs.at(-1)!.p99.toFixed(1)} ms\n`);
      }
    }
    if (options.serviceOutput !== null) writeFileSync(options.serviceOutput, service.process.output());
    return { label, transactions: transactions ?? users * (RENEWALS_PER_USER + 1), runs, memory: await serviceMemory(service.baseUrl) };
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function loopDelayText(delay: Run['loopDelay']): string {
  if (delay === null) return '—';
  const { service, generator } = delay;
  return `${ms(service.p99)} / ${ms(service.max)}; ${ms(generator.p99)} / ${ms(generator.max)}`;
}

const ms = (value: number) => (value >= 100 ? Math.round(value).toString() : value.toFixed(1));

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.skew) userPath = skewedUserPath;
  const cluster = options.ownCluster === null ? null : await startOwnCluster(options.ownCluster);
  if (cluster !== null) options.server = cluster.url;
  const machine = await machineDescription(options.server);
  const referenceBefore = await machineReference();
  const scenarios: Scenario[] = [];
  try {
    if (options.only !== 'large') scenarios.push(await scenario('10k transactions', 1_000, options));
    if (options.only !== 'small') scenarios.push(await scenario('1M transactions', LARGE_USERS, options));
  } finally {
    cluster?.stop();
  }
  const referenceAfter = await machineReference();
  const server = cluster === null ? `server ${options.server.replace(/\/\/[^@]*@/, '//')}` : `own cluster (${settingsText(cluster.settings)})`;

  const lines = [
    `GET /entitlements/:userId, ${options.skew ? 'skewed users (80 % of reads on 20 % of them)' : 'random users'}, ` +
      `cache ${options.env.ENTITLEMENTS_CACHE_SIZE ?? 'default size'}, ${options.env.WORKERS ? `WORKERS=${options.env.WORKERS}, ` : ''}${options.dist ? 'node dist/server.js' : 'tsx src/server.ts'}, ${options.duration} s per run after ${options.warmUp} s of warm-up, ${options.repeat} rounds, load generator on the same machine`,
    `machine: ${machine}; PostgreSQL: ${server}; CPU reference loop ${Math.round(referenceBefore.cpuMs)} ms before, ${Math.round(referenceAfter.cpuMs)} ms after; ` +
      `bare node:http 1 KB JSON ${Math.round(referenceBefore.httpPerSecond)} req/s before, ${Math.round(referenceAfter.httpPerSecond)} after`,
    '',
    '| data | round | mode | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | errors | CPU µs/request: service + PostgreSQL + generator | service event loop waiting for a core (µs/request) | event loop late, p99 / max ms: service; generator |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|',
    ...scenarios.flatMap((s) =>
      s.runs.map(
        (r) =>
          `| ${s.label} | ${r.round} | ${r.mode} | ${r.requests} | ${Math.round(r.rps)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ` +
          `${r.non2xx} | ${r.errors} | ${Math.round(r.cpuUs.service)} + ${Math.round(r.cpuUs.postgres)} + ${Math.round(r.cpuUs.generator)} | ${Math.round(r.cpuUs.serviceWaiting)} | ${loopDelayText(r.loopDelay)} |`,
      ),
    ),
    '',
    'Median round per data set and mode:',
    '',
    '| data | mode | req/s | p50 ms | p99 ms | p99 range ms | clean (no non-2xx, no errors) |',
    '|---|---|---:|---:|---:|---|---|',
  ];
  const modes = [...new Set(scenarios.flatMap((s) => s.runs.map((r) => r.mode)))];
  const summary = (s: Scenario, mode: string) => {
    const runs = s.runs.filter((r) => r.mode === mode);
    const p99s = runs.map((r) => r.p99).sort((a, b) => a - b);
    return {
      rps: median(runs.map((r) => r.rps)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(p99s),
      range: `${ms(p99s[0]!)}–${ms(p99s.at(-1)!)}`,
      clean: runs.every((r) => r.non2xx === 0 && r.errors === 0),
    };
  };
  for (const s of scenarios) {
    for (const mode of modes) {
      const m = summary(s, mode);
      lines.push(`| ${s.label} | ${mode} | ${Math.round(m.rps)} | ${ms(m.p50)} | ${ms(m.p99)} | ${m.range} | ${m.clean ? 'yes' : 'NO'} |`);
    }
  }
  lines.push('');
  const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
  for (const s of scenarios) {
    const m = s.memory;
    if (m === null) continue;
    const hitShare = m.cacheHits + m.cacheMisses === 0 ? 0 : (100 * m.cacheHits) / (m.cacheHits + m.cacheMisses);
    lines.push(
      `${s.label}, the service after the runs: RSS ${mb(m.rssBytes)}, heap used ${mb(m.heapUsedBytes)}, ` +
        `${m.cacheEntries} users cached, ${hitShare.toFixed(0)} % of reads from the cache (warm-up included)`,
    );
  }
  lines.push('');
  const small = scenarios.find((s) => s.label.startsWith('10k'));
  const large = scenarios.find((s) => s.label.startsWith('1M'));
  const closed = modes[0]!;
  if (large !== undefined) {
    const saturation = summary(large, closed);
    lines.push(
      `at 1M, ${closed} (median round): ${Math.round(saturation.rps)} req/s (>= 10000 ${saturation.rps >= 10_000 ? 'met' : 'MISSED'}), ` +
        `p99 ${ms(saturation.p99)} ms`,
    );
    if (modes.includes('open loop, 5000/s offered')) {
      const open = summary(large, 'open loop, 5000/s offered');
      lines.push(`at 1M, open loop 5000/s offered (median round): p99 ${ms(open.p99)} ms (< 10 ms ${open.p99 < 10 && open.clean ? 'met' : 'MISSED'})`);
    }
  }
  if (small !== undefined && large !== undefined) {
    for (const mode of modes) {
      const ratio = summary(large, mode).p99 / Math.max(summary(small, mode).p99, 0.001);
      lines.push(`p99 ratio 1M / 10k (median rounds), ${mode}: ${ratio.toFixed(2)} (<= 1.5 ${ratio <= 1.5 ? 'met' : 'MISSED'})`);
    }
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
