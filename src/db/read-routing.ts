import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Database, DatabaseHandle } from './client.js';
import { isDatabaseUnavailable, isPostgresError } from './errors.js';
import * as schema from './schema.js';

// Reads from a streaming replica (DATABASE_READ_URL), never more than READ_MAX_LAG behind
// the primary. The lag is measured by LSNs, not by pg_last_xact_replay_timestamp(): on an
// idle primary the last replayed commit grows old while nothing is behind. Once a second
// the primary's WAL insert position is sampled (time `at`, position `lsn`), then the
// replica's replay position: a replica that has replayed past a sample holds every commit
// made before that sample's `at`. The newest such `at` is `caughtUpTo`, and a read goes to
// the replica only while `now - caughtUpTo <= READ_MAX_LAG` — a bound that expires on its
// own, so a replica that stops answering or stops replaying loses its reads within
// READ_MAX_LAG even if a check hangs. Anything else (unreachable, not a standby, never
// checked yet) sends reads to the primary.

/** How often the replica is checked: at most once a second (issue 20). */
export const READ_CHECK_INTERVAL_MS = 1_000;

export type ReplicaState = 'unchecked' | 'current' | 'lagging' | 'unreachable' | 'not_standby';
export type ReadPool = 'primary' | 'replica';

export interface ReplicaStatus {
  state: ReplicaState;
  /** Where reads go now. */
  pool: ReadPool;
  /** The replica was at most this far behind at the last check (ms); null when unknown. */
  lagMs: number | null;
  /** WAL bytes the replica's replay was behind the primary's position at the last check; null when unknown. */
  lagBytes: number | null;
  checkedAt: Date | null;
  /** Why the replica is not used, for operators (no secrets: the error's message only). */
  reason: string | null;
}

export interface ReadRouting {
  /** The handle for read routes: each statement goes to the replica while it is current, else to the primary. */
  database: DatabaseHandle;
  status(): ReplicaStatus;
  /** Statements served so far, by pool (for /metrics). */
  reads(): Record<ReadPool, number>;
  /** Measures the replica's lag now (after any check in flight). */
  check(): Promise<ReplicaStatus>;
  /** Starts the once-a-second check (the first one at once). */
  start(): void;
  stop(): Promise<void>;
}

export interface ReadRoutingDeps {
  primary: DatabaseHandle;
  replica: DatabaseHandle;
  maxLagMs: number;
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
}

interface Sample {
  at: number;
  lsn: bigint;
}

/** `16/B374D848` → a number that orders like the WAL position. */
export function parseLsn(text: string): bigint {
  const [high, low] = text.split('/');
  if (high === undefined || low === undefined) throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

const PRIMARY_POSITION = 'select pg_current_wal_insert_lsn()::text as lsn';
const REPLICA_POSITION = 'select pg_is_in_recovery() as recovery, pg_last_wal_replay_lsn()::text as replay';
// Samples older than this can no longer prove a replica current enough.
const MAX_SAMPLES = 64;

function poolOf(handle: DatabaseHandle): pg.Pool {
  if (handle.raw.kind !== 'postgres') throw new Error('a read replica needs PostgreSQL on both sides');
  return handle.raw.pool;
}

/**
 * What drizzle's node-postgres session calls: one `query` per statement, sent to the pool
 * the routing picks (a class, so drizzle takes it for a client rather than a config).
 */
class RoutedQueries {
  constructor(private readonly route: <T>(run: (pool: pg.Pool) => Promise<T>) => Promise<T>) {}
  query(config: pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> {
    return this.route((pool) => pool.query(config, values));
  }
}

export function createReadRouting(deps: ReadRoutingDeps): ReadRouting {
  const { clock, logger, maxLagMs } = deps;
  const primaryPool = poolOf(deps.primary);
  const replicaPool = poolOf(deps.replica);
  const intervalMs = Math.max(deps.intervalMs ?? READ_CHECK_INTERVAL_MS, READ_CHECK_INTERVAL_MS);
  const samples: Sample[] = [];
  const served: Record<ReadPool, number> = { primary: 0, replica: 0 };
  let caughtUpTo: number | null = null;
  let state: ReplicaState = 'unchecked';
  let reason: string | null = 'not checked yet';
  let lagMs: number | null = null;
  let lagBytes: number | null = null;
  let checkedAt: Date | null = null;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> | null = null;

  const useReplica = () => (state === 'current' || state === 'lagging') && caughtUpTo !== null && clock().getTime() - caughtUpTo <= maxLagMs;

  function become(next: ReplicaState, why: string | null, error?: unknown): void {
    const previous = state;
    state = next;
    reason = why;
    if (previous === next) return;
    const fields = { replicaState: next, previousState: previous, lagMs, lagBytes, reason: why, ...(error ? { err: error } : {}) };
    if (next === 'current') logger.info(fields, 'read replica is current: reads go to DATABASE_READ_URL');
    else logger.warn(fields, 'read replica not used: reads go to the primary');
  }

  /** A read failed on the replica for want of a connection: reads go to the primary until a check succeeds. */
  function lost(error: unknown): void {
    caughtUpTo = null;
    // /readyz shows the reason without a key: the error's code only (its message may name hosts); the log has the rest.
    const code = (error as { code?: unknown } | null)?.code;
    become('unreachable', `the replica does not answer (${typeof code === 'string' ? code : 'no connection'})`, error);
  }

  /** `run` on the replica while it is current, else (or when it fails to answer) on the primary; `handle` is the pool's database. */
  async function route<T>(run: (pool: pg.Pool, handle: DatabaseHandle) => Promise<T>): Promise<T> {
    if (!useReplica()) {
      served.primary += 1;
      return run(primaryPool, deps.primary);
    }
    try {
      const result = await run(replicaPool, deps.replica);
      served.replica += 1;
      return result;
    } catch (error) {
      // Only a replica's "not now" is retried (a read is safe to repeat); a wrong query fails as it would on the primary.
      if (!isDatabaseUnavailable(error)) throw error;
      // A server that answered (a recovery conflict, say) is still reachable; a socket error is not.
      if (!isPostgresError(error)) lost(error);
      served.primary += 1;
      return run(primaryPool, deps.primary);
    }
  }

  async function measure(): Promise<void> {
    const startedAt = clock().getTime();
    let lsn: bigint;
    try {
      const { rows } = await primaryPool.query<{ lsn: string }>(PRIMARY_POSITION);
      lsn = parseLsn(rows[0]!.lsn);
    } catch (error) {
      // Without the primary's position nothing is proven either way; the time bound runs out on its own.
      logger.debug({ err: error }, 'read replica check: the primary did not answer');
      return;
    }
    samples.push({ at: startedAt, lsn });
    if (samples.length > MAX_SAMPLES) samples.shift();
    let row: { recovery: boolean; replay: string | null };
    try {
      ({
        rows: [row],
      } = (await replicaPool.query(REPLICA_POSITION)) as unknown as { rows: [typeof row] });
    } catch (error) {
      checkedAt = clock();
      lagMs = null;
      lagBytes = null;
      lost(error);
      return;
    }
    checkedAt = clock();
    if (!row.recovery || row.replay === null) {
      caughtUpTo = null;
      lagMs = null;
      lagBytes = null;
      become('not_standby', 'DATABASE_READ_URL is not a server in recovery (a promoted or unrelated server)');
      return;
    }
    const replay = parseLsn(row.replay);
    for (let i = samples.length - 1; i >= 0; i--) {
      const sample = samples[i]!;
      if (sample.lsn <= replay) {
        if (caughtUpTo === null || sample.at > caughtUpTo) caughtUpTo = sample.at;
        break;
      }
    }
    const now = checkedAt.getTime();
    lagBytes = lsn > replay ? Number(lsn - replay) : 0;
    if (caughtUpTo === null) {
      lagMs = null;
      become('lagging', 'the replica has not yet replayed any position sampled on the primary');
      return;
    }
    lagMs = Math.max(0, now - caughtUpTo);
    if (lagMs <= maxLagMs) become('current', null);
    else become('lagging', `behind by more than ${maxLagMs} ms (READ_MAX_LAG)`);
  }

  async function check(): Promise<ReplicaStatus> {
    // A check asked for during another waits for it, then measures again: its answer is about "now".
    while (inFlight) await inFlight;
    inFlight = measure().finally(() => {
      inFlight = null;
    });
    await inFlight;
    return status();
  }

  function status(): ReplicaStatus {
    return { state, pool: useReplica() ? 'replica' : 'primary', lagMs, lagBytes, checkedAt, reason };
  }

  const routed = new RoutedQueries(route) as unknown as pg.Pool;
  const db = drizzlePg(routed, { schema }) as unknown as Database;
  // A transaction reads its own writes: on the primary, whatever the routing says.
  db.transaction = deps.primary.db.transaction;
  const database: DatabaseHandle = {
    ...deps.primary,
    db,
    // Through each side's own queryArrays: its generically planned pool (client.ts).
    queryArrays: (query) => route((_pool, handle) => handle.queryArrays(query)),
    // The owner (server.ts, a test) closes the two handles; this view owns nothing.
    close: async () => {},
  };

  return {
    database,
    status,
    reads: () => ({ ...served }),
    check,
    start() {
      if (timer) return;
      const tick = () => {
        if (!inFlight) void check().catch((error: unknown) => logger.warn({ err: error }, 'read replica check failed'));
      };
      tick();
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      while (inFlight) await inFlight;
    },
  };
}
