import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { DEFAULT_APP_ID } from '../config.js';
import type { PoolStats } from '../db/client.js';
import type { ReadPool, ReplicaStatus } from '../db/read-routing.js';
import type { RecordsCacheStats } from '../entitlements/records-cache.js';
import type { ServiceEvents } from './events.js';

// Prometheus implementation of ServiceEvents. Each call builds its own Registry (never
// prom-client's global one) so that tests can build many apps in one process.

export interface Metrics {
  registry: Registry;
  /**
   * The text `/metrics` answers: this registry's, or, in a WORKERS cluster, every worker's
   * aggregated (src/cluster.ts replaces it).
   */
  scrape(): Promise<string>;
  events: ServiceEvents;
  /** Called once per answered request, by the hook that metrics.routes.ts installs; `app`: the app it acted for, '' for none. */
  observeHttpRequest(labels: { route: string; method: string; status: number; app: string }, seconds: number): void;
  // The sources below are read on each scrape, one per app (each app has its own database,
  // pool, replica routing, delivery worker and cache): each series carries its app's id in
  // `app`. A later call for the same app replaces its source.
  /** App `app`'s database pool. */
  trackDatabasePool(app: string, poolStats: () => PoolStats | null): void;
  /** The age in seconds of app `app`'s oldest event not yet delivered to every URL (null: none). */
  trackOldestPendingEvent(app: string, ageSeconds: () => Promise<number | null>): void;
  /** App `app`'s read replica routing (DATABASE_READ_URL). */
  trackReadReplica(app: string, source: () => { status: ReplicaStatus; reads: Record<ReadPool, number> }): void;
  /** App `app`'s entitlement cache counts. */
  trackEntitlementsCache(app: string, source: () => RecordsCacheStats): void;
}

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC); on by default. */
  processMetrics?: boolean;
  /**
   * The `app` label of what `events` itself reports (`events.forApp(id)` reports as app `id`):
   * a single-app installation's app, `default` unless said. With several apps, '' (no app):
   * what reaches `events` itself then belongs to none (a payload naming a bundle of no app).
   */
  app?: string;
}

// From a cached duplicate (a few ms) to a cold chain with OCSP round trips (seconds).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const REMOTE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** A bounded label for an App Store Server API answer (status codes stay in the logs). */
export function apiCallOutcome(status: number | 'network_error'): string {
  if (status === 'network_error') return 'network_error';
  if (status >= 200 && status < 300) return 'success';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'client_error';
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];

  const notifications = new Counter({
    name: 'ase_notifications_total',
    help: 'App Store Server Notifications received, by version, notification type, outcome and app',
    labelNames: ['version', 'type', 'outcome', 'app'] as const,
    registers,
  });
  const verificationFailures = new Counter({
    name: 'ase_verification_failures_total',
    help: 'Signed payloads that failed verification, by error code and app',
    labelNames: ['code', 'app'] as const,
    registers,
  });
  const ingestDuration = new Histogram({
    name: 'ase_ingest_duration_seconds',
    help: 'Time to verify, record and apply one notification, by version, outcome and app',
    labelNames: ['version', 'outcome', 'app'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const httpDuration = new Histogram({
    name: 'ase_http_request_duration_seconds',
    help: 'HTTP request duration, by route template, method, status code and the app the request acted for ("" for none)',
    labelNames: ['route', 'method', 'status', 'app'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const apiCalls = new Counter({
    name: 'ase_app_store_api_calls_total',
    help: 'Calls to the App Store Server API (each attempt), by endpoint, environment, outcome and app',
    labelNames: ['endpoint', 'environment', 'outcome', 'app'] as const,
    registers,
  });
  const apiDuration = new Histogram({
    name: 'ase_app_store_api_duration_seconds',
    help: 'App Store Server API call latency (each attempt), by endpoint, environment and app',
    labelNames: ['endpoint', 'environment', 'app'] as const,
    buckets: REMOTE_BUCKETS,
    registers,
  });
  const recoveryRuns = new Counter({
    name: 'ase_recovery_runs_total',
    help: 'Runs of the missed-notification recovery, by trigger, outcome and app',
    labelNames: ['trigger', 'outcome', 'app'] as const,
    registers,
  });
  const recoveryApplied = new Counter({
    name: 'ase_recovery_applied_notifications_total',
    help: 'Notifications that recovery found missing and applied, by app',
    labelNames: ['app'] as const,
    registers,
  });

  const eventDeliveries = new Counter({
    name: 'ase_event_deliveries_total',
    help: 'Attempts to deliver an event to an app-backend URL, by URL, outcome (delivered, retry, failed for good) and app',
    labelNames: ['url', 'outcome', 'app'] as const,
    registers,
  });
  const eventDeliveryDuration = new Histogram({
    name: 'ase_event_delivery_duration_seconds',
    help: 'Time from sending an event to the answer (or the timeout), by URL and app',
    labelNames: ['url', 'app'] as const,
    buckets: REMOTE_BUCKETS,
    registers,
  });
  const oldestPendingSources = new Map<string, () => Promise<number | null>>();
  new Gauge({
    name: 'ase_event_delivery_oldest_pending_seconds',
    help: 'Age of the oldest event of the app some URL has not received yet (0 when none), by app; absent without EVENTS_WEBHOOK_URLS',
    labelNames: ['app'] as const,
    // Every WORKERS process reads the same databases: aggregated, the oldest, not the sum.
    aggregator: 'max',
    registers,
    async collect() {
      // Every app's age first, then the series at once: a concurrent scrape never sees them half set.
      const ages = await Promise.all(Array.from(oldestPendingSources, async ([app, source]) => [app, (await source().catch(() => null)) ?? 0] as const));
      this.reset();
      for (const [app, age] of ages) this.set({ app }, age);
    },
  });

  const poolSources = new Map<string, () => PoolStats | null>();
  new Gauge({
    name: 'ase_db_pool_connections',
    help: "PostgreSQL pool connections by state (total, idle, waiting clients) and app (each app's own pool); absent on embedded PGlite",
    labelNames: ['state', 'app'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, source] of poolSources) {
        const stats = source();
        if (!stats) continue;
        this.set({ state: 'total', app }, stats.total);
        this.set({ state: 'idle', app }, stats.idle);
        this.set({ state: 'waiting', app }, stats.waiting);
      }
    },
  });

  // Absent without DATABASE_READ_URL.
  const replicaSources = new Map<string, () => { status: ReplicaStatus; reads: Record<ReadPool, number> }>();
  new Counter({
    name: 'ase_db_reads_total',
    help: 'Statements of the read routes, by the pool that served them (replica while current, else primary) and app',
    labelNames: ['pool', 'app'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, source] of replicaSources) {
        const reads = source().reads;
        this.inc({ pool: 'primary', app }, reads.primary);
        this.inc({ pool: 'replica', app }, reads.replica);
      }
    },
  });
  new Gauge({
    name: 'ase_db_replica_lag_seconds',
    help: "How far behind the primary the app's read replica was at most, at its last check, by app (absent while unknown)",
    labelNames: ['app'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, source] of replicaSources) {
        const lagMs = source().status.lagMs;
        if (lagMs !== null) this.set({ app }, lagMs / 1000);
      }
    },
  });
  new Gauge({
    name: 'ase_db_replica_lag_bytes',
    help: "WAL bytes the app's read replica's replay was behind the primary at its last check, by app (absent while unknown)",
    labelNames: ['app'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, source] of replicaSources) {
        const lagBytes = source().status.lagBytes;
        if (lagBytes !== null) this.set({ app }, lagBytes);
      }
    },
  });
  new Gauge({
    name: 'ase_db_replica_state',
    help: "The app's read replica's state (1 for the current one): current, lagging, unreachable, not_standby, unchecked; by app",
    labelNames: ['state', 'app'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, source] of replicaSources) {
        const current = source().status.state;
        for (const state of ['unchecked', 'current', 'lagging', 'unreachable', 'not_standby'] as const) this.set({ state, app }, state === current ? 1 : 0);
      }
    },
  });

  // The entitlement read's in-process cache (beyond SPEC; docs/entitlements-cache.md). Each
  // WORKERS process has its own: aggregated, counts and entries add up, and `serving` is
  // the lowest (0 as soon as one process serves nothing from memory).
  // One cache per app: each series carries its app.
  const cacheSources = new Map<string, () => RecordsCacheStats>();
  const cacheCounter = (name: string, help: string, count: (stats: RecordsCacheStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['app'] as const,
      registers,
      collect() {
        this.reset();
        for (const [app, source] of cacheSources) this.inc({ app }, count(source()));
      },
    });
  cacheCounter(
    'ase_entitlements_cache_hits_total',
    'Entitlement reads answered from the in-process cache (no database round trip), by app',
    (stats) => stats.hits,
  );
  cacheCounter(
    'ase_entitlements_cache_misses_total',
    'Entitlement reads that went to the database (not cached, or the cache not serving), by app',
    (stats) => stats.misses,
  );
  cacheCounter(
    'ase_entitlements_cache_invalidations_total',
    'Invalidations the entitlement cache applied: one per user named by a commit, one per "every user"; by app',
    (stats) => stats.invalidations,
  );
  new Gauge({
    name: 'ase_entitlements_cache_entries',
    help: "Users whose answers the app's entitlement cache holds, by app",
    labelNames: ['app'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, source] of cacheSources) this.set({ app }, source().size);
    },
  });
  new Gauge({
    name: 'ase_entitlements_cache_serving',
    help: "Whether the app's entitlement cache serves (1), or every read goes to the database (0: cache off, or its invalidation listener down); by app",
    labelNames: ['app'] as const,
    aggregator: 'min',
    registers,
    collect() {
      this.reset();
      for (const [app, source] of cacheSources) this.set({ app }, source().serving ? 1 : 0);
    },
  });

  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const eventsRecorded = new Counter({
    name: 'ase_events_recorded_total',
    help: 'Events for the app backend recorded (committed with their change), by type and app',
    labelNames: ['type', 'app'] as const,
    registers,
  });

  // One sink per app, made on first use; every per-app series carries the app's id.
  const sinks = new Map<string, ServiceEvents>();
  const sinkFor = (app: string): ServiceEvents => {
    const known = sinks.get(app);
    if (known) return known;
    const sink: ServiceEvents = {
      notification({ version, type, outcome, durationMs }) {
        notifications.inc({ version, type, outcome, app });
        ingestDuration.observe({ version, outcome, app }, durationMs / 1000);
      },
      verificationFailed({ code }) {
        verificationFailures.inc({ code, app });
      },
      appStoreApiCall({ endpoint, environment, status, durationMs }) {
        apiCalls.inc({ endpoint, environment, outcome: apiCallOutcome(status), app });
        apiDuration.observe({ endpoint, environment, app }, durationMs / 1000);
      },
      recoveryRun({ trigger, outcome, applied }) {
        recoveryRuns.inc({ trigger, outcome, app });
        if (applied > 0) recoveryApplied.inc({ app }, applied);
      },
      eventDelivery({ url, outcome, durationMs }) {
        eventDeliveries.inc({ url, outcome, app });
        eventDeliveryDuration.observe({ url, app }, durationMs / 1000);
      },
      eventsRecorded({ type, count }) {
        eventsRecorded.inc({ type, app }, count);
      },
      forApp: sinkFor,
    };
    sinks.set(app, sink);
    return sink;
  };
  const events = sinkFor(options.app ?? DEFAULT_APP_ID);

  return {
    registry,
    scrape: () => registry.metrics(),
    events,
    observeHttpRequest({ route, method, status, app }, seconds) {
      httpDuration.observe({ route, method, status: String(status), app }, seconds);
    },
    trackDatabasePool(app, poolStats) {
      poolSources.set(app, poolStats);
    },
    trackOldestPendingEvent(app, ageSeconds) {
      oldestPendingSources.set(app, ageSeconds);
    },
    trackReadReplica(app, source) {
      replicaSources.set(app, source);
    },
    trackEntitlementsCache(app, source) {
      cacheSources.set(app, source);
    },
  };
}
