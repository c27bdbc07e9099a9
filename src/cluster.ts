import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { unavailable } from './errors.js';

// WORKERS (SPEC): several processes serve PORT with node:cluster. The primary only
// supervises: it opens no database and serves nothing itself; the workers listen (the
// primary hands connections to them) and each runs the whole service, background jobs
// included, exactly as replicas do (the schedulers take an advisory try-lock, deliveries
// and consumption answers are claimed FOR UPDATE SKIP LOCKED), so nothing runs twice.

/** The processes WORKERS asks for: 0 = one per core; embedded PGlite holds its data directory alone, so 1. */
export function resolveWorkers(workers: number, databaseUrl: string | null): number {
  if (databaseUrl === null) return 1;
  return workers === 0 ? availableParallelism() : workers;
}

const METRICS_REQUEST = 'ase:metrics-request';
const METRICS_RESPONSE = 'ase:metrics-response';
const WORKER_READY = 'ase:worker-ready';

interface MetricsRequest {
  type: typeof METRICS_REQUEST;
  id: number;
}
interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: number;
  text?: string;
  error?: string;
}

const isMessage = (message: unknown, type: string): boolean => typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;

// Restarts of a worker that keeps crashing are spaced out (1 s, 2 s, … 30 s); a worker that
// lived a minute resets the delay.
const RESTART_DELAY_MS = 1_000;
const RESTART_DELAY_MAX_MS = 30_000;
const STABLE_AFTER_MS = 60_000;
// Longer than a worker's own 25 s drain, so that the workers time out first and say why.
const SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * The primary: forks `workers` processes, answers their `/metrics` requests with every
 * worker's registry aggregated, restarts a worker that exits unexpectedly (with a log line),
 * and on SIGTERM or SIGINT asks every worker to drain and exits when they all have.
 * A worker that exits before the service was ever up stops everything (a start-up error:
 * the worker has already said why).
 */
export function runPrimary({ workers, logger }: { workers: number; logger: Logger }): void {
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let stopExitCode = 0;
  let everReady = false;
  const ready = new Set<number>();
  const startedAt = new Map<number, number>();
  let restartDelay = RESTART_DELAY_MS;

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker.id, Date.now());
  };

  const stop = (signal: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    stopExitCode = exitCode;
    logger.info({ signal, workers: Object.keys(cluster.workers ?? {}).length }, 'shutting down: every worker drains its in-flight requests');
    const forced = setTimeout(() => {
      logger.error(`workers still running after ${SHUTDOWN_TIMEOUT_MS / 1000} s; killing them`);
      for (const worker of liveWorkers()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    forced.unref();
    for (const worker of liveWorkers()) worker.process.kill('SIGTERM');
    exitWhenAllGone();
  };

  const exitWhenAllGone = () => {
    if (liveWorkers().length > 0) return;
    logger.info({ exitCode: stopExitCode }, 'shutdown complete: every worker has exited');
    process.exit(stopExitCode);
  };

  cluster.on('message', (worker: Worker, message: unknown) => {
    if (isMessage(message, WORKER_READY)) {
      ready.add(worker.id);
      if (!everReady && ready.size === workers) {
        everReady = true;
        logger.info({ workers, pids: liveWorkers().map((each) => each.process.pid) }, 'every worker is listening');
      }
      return;
    }
    if (!isMessage(message, METRICS_REQUEST)) return;
    const { id } = message as MetricsRequest;
    const answer = (response: Omit<MetricsResponse, 'type' | 'id'>) => {
      if (worker.isConnected()) worker.send({ type: METRICS_RESPONSE, id, ...response } satisfies MetricsResponse);
    };
    aggregator.clusterMetrics().then(
      (text) => answer({ text }),
      (error: unknown) => answer({ error: error instanceof Error ? error.message : String(error) }),
    );
  });

  cluster.on('exit', (worker, code, signal) => {
    const wasReady = ready.delete(worker.id);
    const lived = Date.now() - (startedAt.get(worker.id) ?? Date.now());
    startedAt.delete(worker.id);
    if (stopping) {
      exitWhenAllGone();
      return;
    }
    if (!everReady && !wasReady) {
      logger.fatal({ pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping the others');
      stop('start-up failure', 1);
      return;
    }
    if (lived >= STABLE_AFTER_MS) restartDelay = RESTART_DELAY_MS;
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: restartDelay }, 'worker exited unexpectedly; starting a new one');
    setTimeout(() => {
      if (!stopping) fork();
    }, restartDelay);
    restartDelay = Math.min(restartDelay * 2, RESTART_DELAY_MAX_MS);
  });

  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));

  logger.info({ workers, primaryPid: process.pid }, 'starting workers');
  for (let index = 0; index < workers; index++) fork();
}

function liveWorkers(): Worker[] {
  return Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && !worker.isDead());
}

/** In a worker: tells the primary the service is listening (start-up is over). */
export function reportWorkerReady(): void {
  process.send?.({ type: WORKER_READY });
}

const SCRAPE_TIMEOUT_MS = 8_000;

/**
 * In a worker: offers `registry` to the primary's aggregation, and returns the scrape that
 * `/metrics` answers with, every worker's metrics aggregated by the primary (prom-client's
 * AggregatorRegistry: counters and histograms summed, gauges as each declares).
 */
export function clusterScrape(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one in a worker installs prom-client's answer to the primary's requests.
  new AggregatorRegistry();
  const pending = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isMessage(message, METRICS_RESPONSE)) return;
    const { id, text, error } = message as MetricsResponse;
    const waiter = pending.get(id);
    if (!waiter) return;
    pending.delete(id);
    if (text !== undefined) waiter.resolve(text);
    else waiter.reject(unavailable('METRICS_UNAVAILABLE', `The workers' metrics could not be gathered: ${error ?? 'no answer'}`));
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(unavailable('METRICS_UNAVAILABLE', "The workers' metrics could not be gathered in time"));
      }, SCRAPE_TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve(text);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      process.send?.({ type: METRICS_REQUEST, id } satisfies MetricsRequest);
    });
}
