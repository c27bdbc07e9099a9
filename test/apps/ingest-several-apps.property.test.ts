// The ingest property test (test/notifications/ingest.property.test.ts) run per app with the
// apps' notifications interleaved: three apps, one subscription each with the same
// originalTransactionId, delivered in any order with duplicates, end each in the state its
// in-order run gives; no app's deliveries change another's.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMultiAppTestApp, type MultiAppTestApp, THREE_APPS } from '../helpers/apps.js';
import { backendName } from '../helpers/database.js';
import { normalisedState, realisticSequence } from '../notifications/realistic-sequence.js';
import { deliver, freshOriginalTransactionId, scenario } from '../notifications/support.js';

describe(`delivery order and duplicates, three apps interleaved (${backendName})`, () => {
  let t: MultiAppTestApp;
  const references = new Map<string, unknown>();
  const dbOf = (appId: string) => t.databases.get(appId)!.database.db;
  /** One scenario per app, all with the same originalTransactionId. */
  const scenarios = () => {
    const originalTransactionId = freshOriginalTransactionId();
    return THREE_APPS.map((app) => ({ app, s: scenario(t.pki, { originalTransactionId, bundleId: app.bundleId }) }));
  };

  beforeAll(async () => {
    t = await createMultiAppTestApp();
    for (const { app, s } of scenarios()) {
      for (const signed of realisticSequence(s)) expect(await deliver(t.app, signed)).toBe('processed');
      references.set(app.id, await normalisedState(dbOf(app.id), s));
    }
  }, 120_000);
  afterAll(async () => t?.close());

  it("each app's in-order run ends in its own state, naming its own bundle", () => {
    for (const app of THREE_APPS) expect(JSON.stringify(references.get(app.id))).not.toContain(THREE_APPS.find((other) => other !== app)!.bundleId);
    expect(references.get(THREE_APPS[0]!.id)).toMatchObject({ states: [{ status: 'active' }, { status: 'expired' }, { status: 'expired' }] });
  });

  it("any interleaving of the apps' notifications, with duplicates, ends each app in its in-order state", async () => {
    const length = realisticSequence(scenario(t.pki)).length;
    const apps = THREE_APPS.length;
    const all = Array.from({ length: apps * length }, (_, i) => i);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: apps * length - 1 }), { maxLength: 6 }).chain((duplicates) => {
          const arrivals = [...all, ...duplicates];
          return fc.shuffledSubarray(arrivals, { minLength: arrivals.length, maxLength: arrivals.length });
        }),
        async (arrival) => {
          const runs = scenarios().map(({ app, s }) => ({ app, s, signed: realisticSequence(s) }));
          const processed = new Map<string, number>();
          for (const index of arrival) {
            const run = runs[Math.floor(index / length)]!;
            const answer = await deliver(t.app, run.signed[index % length]!);
            if (answer === 'processed') processed.set(run.app.id, (processed.get(run.app.id) ?? 0) + 1);
          }
          for (const run of runs) {
            expect(processed.get(run.app.id)).toBe(length);
            expect(await normalisedState(dbOf(run.app.id), run.s)).toEqual(references.get(run.app.id));
          }
        },
      ),
      { numRuns: 6 },
    );
  }, 600_000);
});
