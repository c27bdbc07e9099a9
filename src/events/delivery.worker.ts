import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { groupWhileBusy } from '../db/group-while-busy.js';
import type { ServiceEvents } from '../metrics/events.js';
import { noopTracing, type Tracing } from '../tracing/tracing.js';
import {
  type AttemptResult,
  bringRetriesForward,
  type ClaimedDelivery,
  claimDeliveries,
  dispatchEvents,
  failAbandonedDeliveries,
  handBackClaims,
  oldestUndeliveredAt,
  type RecordedAttempts,
  recordAttemptResults,
  releaseHeldBack,
} from './deliveries.repository.js';
import { type BackoffPolicy, DEFAULT_BACKOFF, nextAttemptAt } from './delivery-backoff.js';
import { signWebhook } from './standard-webhooks.js';
import { createAgents, sendWebhook } from './webhook-sender.js';

// Delivers recorded events to EVENTS_WEBHOOK_URLS. Each URL has a lane of its own with a
// bounded number of attempts in flight, so a slow or dead receiver holds only its own
// lane; the ingest never waits for any of it (it only appends to `events`). Every step is
// a short statement of its own: no transaction stays open across an HTTP call. Results
// that come back together are recorded together (one statement for the group), and a lane
// looks for new events only when told some were recorded (or at its poll), not after each
// attempt. Nor does it claim after each attempt: in the usual course the dispatch creates
// the rows already claimed (a user's later events of the batch chained behind the first, sent
// in turn by the slot that holds them), an end claims the held-back row it releases (the
// result's statement), and nothing else is due; so a lane claims only when it knows a row may be
// due that no claim has seen (a dispatch left rows unclaimed for want of a slot, a retry's
// time has come, a sweep or an operator made rows due) and at every poll (what it cannot
// know: other replicas' rows, leases running out). Per event, the database sees a share of
// a result statement, and rarely a claim.

export interface DeliveryWorkerOptions {
  /** How often each lane looks for new and due deliveries when nothing wakes it sooner. */
  pollIntervalMs: number;
  /** One attempt's limit, from the request's start to the answer's status line. */
  timeoutMs: number;
  /** Attempts in flight at once per URL. */
  concurrency: number;
  /** How long a claimed delivery stays claimed; after it, another replica may try it again. */
  leaseMs: number;
  /** Events turned into delivery rows per dispatch step. */
  dispatchBatch: number;
  /** How long a URL must have failed every attempt for its next success to bring its retrying deliveries forward. */
  recoverAfterMs: number;
  /** How often each lane releases held-back deliveries whose earlier one ended unseen (releaseHeldBack). */
  releaseIntervalMs: number;
  backoff: BackoffPolicy;
  /** [0, 1): the backoff's jitter. */
  random: () => number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryWorkerOptions = {
  pollIntervalMs: 500,
  timeoutMs: 10_000,
  concurrency: 32,
  leaseMs: 60_000,
  dispatchBatch: 500,
  releaseIntervalMs: 5_000,
  recoverAfterMs: 30_000,
  backoff: DEFAULT_BACKOFF,
  random: Math.random,
};

export interface DeliveryWorkerDeps {
  db: Database;
  urls: readonly string[];
  key: Uint8Array;
  clock: Clock;
  logger: Logger;
  events: ServiceEvents;
  options?: Partial<DeliveryWorkerOptions>;
  /** An `event.delivery` span per attempt; absent: no spans. */
  tracing?: Tracing;
}

export interface DeliveryWorker {
  /** Starts every lane's polling; idempotent. */
  start(): void;
  /** Stops polling and waits for the attempts in flight (each ends within the timeout). */
  stop(): Promise<void>;
  /** One round in every lane, now, as at a poll, waiting for the attempts it started (tests, the CLI). */
  tick(): Promise<void>;
  /**
   * Asks every lane to look again at once, only while started: for new events ('recorded':
   * the recorder, after a commit), or for due deliveries too ('redelivered': an operator).
   */
  wake(reason: 'recorded' | 'redelivered'): void;
  /** Seconds since the oldest event some URL has not received yet was recorded; null when none. */
  oldestPendingAgeSeconds(): Promise<number | null>;
}

/** A URL as a metric label and in logs: no credentials, no query (either may carry a secret). */
export function urlLabel(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return 'invalid';
  }
}

/** An attempt's result, not recorded yet. */
interface Sent {
  result: AttemptResult;
  error: string | null;
}

/** What an attempt tells its lane. */
interface AttemptListener {
  /** At once: whether the URL took the attempt. */
  answered(ok: boolean, at: Date): void;
  /** Once recorded: a retry of the URL is due at `at`. */
  dueAt(at: Date): void;
  /**
   * The result was dropped: the row was claimed again or redelivered meanwhile. Redelivered,
   * it may be due and skipped by a claim while the result's statement held its lock.
   */
  dropped(): void;
}

interface Lane {
  kick(): void;
  /** Attempts deliveries claimed for this lane: one, or a chain of one user's (DispatchResult). */
  begin(chain: readonly ClaimedDelivery[]): void;
  /** Events were (or may have been) recorded since the last dispatch: look for them at the next round. */
  dispatchWanted(): void;
  /** Rows may be due that no claim has seen: claim at the next round with a free slot. */
  claimWanted(): void;
  round(): Promise<void>;
  idle(): Promise<void>;
}

export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const options: DeliveryWorkerOptions = { ...DEFAULT_DELIVERY_OPTIONS, ...deps.options };
  let timer: NodeJS.Timeout | null = null;
  let stopping = false;
  let housekeeping: Promise<void> = Promise.resolve();
  const agents = createAgents();
  const record = groupWhileBusy<{ claim: ClaimedDelivery; result: AttemptResult }, boolean>({
    async run(group) {
      try {
        const now = deps.clock();
        const results: RecordedAttempts = await recordAttemptResults(
          deps.db,
          group.map((waiting) => waiting.item),
          { now, leaseUntil: new Date(now.getTime() + options.leaseMs) },
        );
        // The held-back rows the ends released, claimed by the same statement: each takes
        // the slot of an attempt that ended.
        for (const claim of results.claims) lanesByUrl.get(claim.url)?.begin([claim]);
        for (const [index, waiting] of group.entries()) waiting.resolve(results.recorded[index]!);
      } catch (error) {
        for (const waiting of group) waiting.reject(error);
      }
    },
    maxGroup: 256,
    maxConcurrent: 1,
  });
  const tracing = deps.tracing ?? noopTracing;

  /** One attempt, told to the lane at once; its result is recorded by `finish`. */
  async function send(claim: ClaimedDelivery, lane: AttemptListener): Promise<Sent> {
    const label = urlLabel(claim.url);
    const sentAt = deps.clock();
    const headers = signWebhook({ key: deps.key, id: claim.eventId, at: sentAt, body: claim.body });
    const post = () => sendWebhook({ url: claim.url, headers: { ...headers }, body: claim.body, timeoutMs: options.timeoutMs, agents });
    const sent = tracing.enabled
      ? await tracing.span(
          'event.delivery',
          {
            kind: 'client',
            attributes: { 'http.request.method': 'POST', 'url.full': label, 'appstore.event_id': claim.eventId, 'appstore.delivery.attempt': claim.attempts },
          },
          async (span) => {
            const result = await post();
            span.setAttributes({ 'appstore.delivery.ok': result.ok, ...(result.status !== null ? { 'http.response.status_code': result.status } : {}) });
            if (result.error !== null) span.setAttributes({ 'error.type': result.error });
            return result;
          },
        )
      : await post();
    const at = deps.clock();
    lane.answered(sent.ok, at);
    let result: AttemptResult;
    if (sent.ok) {
      result = { outcome: 'delivered', status: sent.status!, at };
    } else {
      const next = nextAttemptAt(options.backoff, { attempts: claim.attempts, startedAt: claim.firstAttemptAt, now: at, random: options.random });
      result =
        next === null
          ? { outcome: 'failed', status: sent.status, error: sent.error ?? 'failed', at }
          : { outcome: 'retry', status: sent.status, error: sent.error ?? 'failed', at, nextAttemptAt: next };
    }
    deps.events.eventDelivery({ url: label, outcome: result.outcome, durationMs: sent.durationMs });
    return { result, error: sent.error };
  }

  /** Records an attempt's result and tells the lane and the log what came of it; never throws. */
  async function finish(claim: ClaimedDelivery, { result, error }: Sent, lane: AttemptListener): Promise<void> {
    const label = urlLabel(claim.url);
    let recorded: boolean;
    try {
      recorded = await record({ claim, result });
    } catch (cause) {
      // The lease runs out and the attempt is repeated.
      deps.logger.warn({ err: cause, eventId: claim.eventId, url: label }, 'event delivery result could not be recorded');
      return;
    }
    if (recorded && result.outcome === 'retry') lane.dueAt(result.nextAttemptAt);
    if (!recorded) {
      lane.dropped();
      deps.logger.info({ eventId: claim.eventId, url: label }, 'event delivery result dropped: the delivery was claimed again meanwhile');
    } else if (result.outcome === 'failed') {
      deps.logger.warn(
        { eventId: claim.eventId, url: label, attempts: claim.attempts, error },
        'event delivery failed for good after retrying; redeliver it from the admin API or the CLI',
      );
    } else if (result.outcome === 'retry') {
      deps.logger.debug({ eventId: claim.eventId, url: label, attempts: claim.attempts, error }, 'event delivery will be retried');
    }
  }

  function createLane(url: string): Lane {
    const inFlight = new Set<Promise<void>>();
    let running: Promise<void> | null = null;
    let again = false;
    // Events may have been recorded that have no delivery row for this URL yet.
    let undispatched = true;
    // Rows of this URL may be due now that no claim has seen (at start: anything left before).
    let claimWanted = true;
    // The earliest retry this lane scheduled that no claim has seen due yet (later ones wait
    // for the poll: one time kept, not one per retrying row).
    let retryDueAt = Number.POSITIVE_INFINITY;
    let releasedAt = Number.NEGATIVE_INFINITY;
    // The URL's failures since it last took an attempt: when they span recoverAfterMs (an
    // outage, not one event it rejects), its next success brings the retrying deliveries
    // forward instead of leaving each to its backoff (minutes, after a long outage).
    let failures = 0;
    let failingSince = 0;
    let recoveredAt: Date | null = null;

    const listener: AttemptListener = {
      answered(ok, at) {
        if (!ok) {
          if (failures === 0) failingSince = at.getTime();
          failures += 1;
          return;
        }
        if (failures >= 3 && at.getTime() - failingSince >= options.recoverAfterMs) recoveredAt = at;
        failures = 0;
      },
      dueAt(at) {
        retryDueAt = Math.min(retryDueAt, at.getTime());
      },
      dropped() {
        claimWanted = true;
      },
    };

    /** Claims up to `limit` due rows when some may be due that no claim has seen. */
    async function claimIfWanted(now: Date, leaseUntil: Date, limit: number): Promise<void> {
      if (limit <= 0 || !(claimWanted || now.getTime() >= retryDueAt)) return;
      // Cleared before the statement: what is learnt while it runs asks for the next claim.
      claimWanted = false;
      if (retryDueAt <= now.getTime()) retryDueAt = Number.POSITIVE_INFINITY;
      let claims: ClaimedDelivery[];
      try {
        claims = await claimDeliveries(deps.db, { url, now, leaseUntil, limit });
      } catch (error) {
        claimWanted = true;
        throw error;
      }
      // Every slot filled: more may be due.
      if (claims.length >= limit) claimWanted = true;
      for (const claim of claims) begin([claim]);
    }

    async function roundOnce(): Promise<void> {
      const now = deps.clock();
      if (recoveredAt !== null) {
        const attemptedBefore = recoveredAt;
        recoveredAt = null;
        const brought = await bringRetriesForward(deps.db, { url, now, attemptedBefore, leaseMs: options.leaseMs });
        if (brought > 0) {
          claimWanted = true;
          deps.logger.info({ url: urlLabel(url), brought }, 'event URL answers again: its retrying deliveries go now');
        }
      }
      if (now.getTime() - releasedAt >= options.releaseIntervalMs) {
        releasedAt = now.getTime();
        const released = await releaseHeldBack(deps.db, url);
        if (released > 0) {
          claimWanted = true;
          deps.logger.info({ url: urlLabel(url), released }, 'held-back event deliveries released by the sweep');
        }
      }
      const leaseUntil = new Date(now.getTime() + options.leaseMs);
      const free = () => Math.max(0, options.concurrency - inFlight.size);
      // Due rows first (retries, rows created while every slot was busy), then new events:
      // the dispatch creates rows for the slots still free already claimed.
      await claimIfWanted(now, leaseUntil, free());
      if (undispatched) {
        undispatched = false;
        try {
          const limit = free();
          const { events, created, chains } = await dispatchEvents(deps.db, url, now, options.dispatchBatch, { leaseUntil, limit });
          // Rows left unclaimed with every free slot taken may wait for nothing: the next
          // round with a free slot claims them (fewer chains than slots: the rest are held back).
          const claimed = chains.reduce((count, chain) => count + chain.length, 0);
          if (created > claimed && chains.length >= limit) claimWanted = true;
          for (const chain of chains) begin(chain);
          // A full batch: more may follow.
          if (events >= options.dispatchBatch) undispatched = true;
        } catch (error) {
          undispatched = true;
          throw error;
        }
      }
    }

    /**
     * Hands back a chain's events not attempted (handBackClaims); those due at once are for
     * the next claim. If it fails, their lease runs out and a claim takes them then.
     */
    async function handBack(rest: readonly ClaimedDelivery[], why: string): Promise<void> {
      try {
        const due = await handBackClaims(deps.db, rest);
        if (due > 0) claimWanted = true;
        deps.logger.debug({ url: urlLabel(url), handedBack: rest.length, due, why }, 'chained event deliveries handed back');
      } catch (error) {
        deps.logger.warn(
          { err: error, url: urlLabel(url), handedBack: rest.length },
          'chained event deliveries could not be handed back; claimed again when their lease runs out',
        );
      }
    }

    /**
     * A chain's events in turn (one event, for most): each once the one before it was
     * delivered, its result recorded meanwhile. The rest is handed back when one is not
     * delivered (before its result is recorded: its end then releases the next), when the
     * lane stops, or when the next could still be in flight as its lease runs out (after the
     * results before it are recorded: the next is then due at once).
     */
    async function attemptChain(chain: readonly ClaimedDelivery[]): Promise<void> {
      const recording: Promise<void>[] = [];
      try {
        for (const [index, claim] of chain.entries()) {
          if (index > 0 && (stopping || deps.clock().getTime() + options.timeoutMs >= claim.claimedAt.getTime() + options.leaseMs)) {
            await Promise.all(recording);
            await handBack(chain.slice(index), stopping ? 'stopping' : 'lease');
            return;
          }
          const sent = await send(claim, listener);
          const delivered = sent.result.outcome === 'delivered';
          if (!delivered && index < chain.length - 1) await handBack(chain.slice(index + 1), 'not delivered');
          recording.push(finish(claim, sent, listener));
          if (!delivered) return;
        }
      } finally {
        await Promise.all(recording);
      }
    }

    function begin(chain: readonly ClaimedDelivery[]): void {
      const work: Promise<void> = attemptChain(chain)
        .catch((error: unknown) => {
          // Not the URL's answer nor the database's (those are results): what is left of the
          // chain stays leased, and is claimed again when the lease runs out.
          deps.logger.error({ err: error, eventId: chain[0]?.eventId, url: urlLabel(url) }, 'event delivery attempt failed unexpectedly');
        })
        .finally(() => {
          inFlight.delete(work);
          // A finished attempt may unblock the user's next event, or free a slot.
          if (!stopping) kick();
        });
      inFlight.add(work);
    }

    function kick(): void {
      again = true;
      if (running === null) running = rounds();
    }

    /**
     * Runs a round, and more while kicks ask for them. `running` is cleared in the step that
     * sees no kick left, so a kick that comes after starts rounds again: none is lost between
     * the last check and the clearing. (A round always awaits, so `running` is set first.)
     */
    async function rounds(): Promise<void> {
      try {
        do {
          again = false;
          try {
            await roundOnce();
          } catch (error) {
            deps.logger.warn({ err: error, url: urlLabel(url) }, 'event delivery round failed; retrying at the next poll');
          }
        } while (again && !stopping);
      } finally {
        running = null;
      }
    }

    return {
      kick,
      begin,
      dispatchWanted() {
        undispatched = true;
      },
      claimWanted() {
        claimWanted = true;
      },
      async round() {
        if (running) await running;
        kick();
        await running;
        await this.idle();
      },
      async idle() {
        while (running || inFlight.size > 0) {
          if (running) await running;
          await Promise.all([...inFlight]);
        }
      },
    };
  }

  const lanes = deps.urls.map(createLane);
  const lanesByUrl = new Map(deps.urls.map((url, index) => [url, lanes[index]!]));

  return {
    start() {
      if (timer !== null || lanes.length === 0) return;
      stopping = false;
      housekeeping = failAbandonedDeliveries(deps.db, deps.urls, deps.clock()).then(
        (count) => {
          if (count > 0) deps.logger.warn({ count }, 'event deliveries to URLs no longer in EVENTS_WEBHOOK_URLS marked failed');
        },
        (error: unknown) => deps.logger.warn({ err: error }, 'could not mark the deliveries of removed URLs failed; retried at the next start'),
      );
      for (const lane of lanes) {
        lane.claimWanted();
        lane.kick();
      }
      timer = setInterval(() => {
        for (const lane of lanes) {
          lane.dispatchWanted();
          lane.claimWanted();
          lane.kick();
        }
      }, options.pollIntervalMs);
      timer.unref();
    },
    async stop() {
      stopping = true;
      if (timer !== null) clearInterval(timer);
      timer = null;
      await Promise.all([housekeeping, ...lanes.map((lane) => lane.idle())]);
      agents.http.destroy();
      agents.https.destroy();
    },
    async tick() {
      for (const lane of lanes) {
        lane.dispatchWanted();
        lane.claimWanted();
      }
      await Promise.all(lanes.map((lane) => lane.round()));
    },
    wake(reason) {
      if (stopping || timer === null) return;
      for (const lane of lanes) {
        lane.dispatchWanted();
        if (reason === 'redelivered') lane.claimWanted();
        lane.kick();
      }
    },
    async oldestPendingAgeSeconds() {
      const oldest = await oldestUndeliveredAt(deps.db, deps.urls);
      return oldest === null ? null : Math.max(0, (deps.clock().getTime() - oldest.getTime()) / 1000);
    },
  };
}
