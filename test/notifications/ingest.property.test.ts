import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { normalisedState, realisticSequence } from './realistic-sequence.js';
import { DAY, deliver, MONTH, scenario, T0 } from './support.js';

describe(`delivery order and duplicates (${backendName})`, () => {
  const t = useTestApp();
  let reference: unknown;

  beforeAll(async () => {
    const s = scenario(t.pki);
    for (const signed of realisticSequence(s)) expect(await deliver(t.app, signed)).toBe('processed');
    reference = await normalisedState(t.deps.database.db, s);
  });

  it('the in-order run ends in the state the sequence implies', () => {
    expect(reference).toMatchObject({
      rows: {
        transactions: [
          { transactionId: '#000', revocationDate: null },
          { transactionId: '#002', revocationDate: new Date(T0 + 2 * MONTH + 3 * DAY).toISOString() },
          { transactionId: '#003', revocationDate: null },
          { transactionId: '#004', expiresDate: new Date(T0 + 4 * MONTH + 5 * DAY).toISOString() },
        ],
        subscriptions: [{ appleStatus: 2, autoRenewStatus: 0, autoRenewProductId: 'com.example.basic', isInBillingRetryPeriod: null }],
      },
      states: [
        { status: 'active', transactionId: '#004' },
        { status: 'expired', transactionId: '#004' },
        { status: 'expired', transactionId: '#004' },
      ],
    });
  });

  it('any permutation of the notifications, with any duplicates, ends in the same rows and state', async () => {
    const length = realisticSequence(scenario(t.pki)).length;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: length - 1 }), { maxLength: 5 }).chain((duplicates) => {
          const all = [...Array.from({ length }, (_, i) => i), ...duplicates];
          return fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length });
        }),
        async (arrival) => {
          const s = scenario(t.pki);
          const signed = realisticSequence(s);
          const answers: string[] = [];
          for (const index of arrival) answers.push(await deliver(t.app, signed[index]!));
          expect(answers.filter((a) => a === 'processed')).toHaveLength(length);
          expect(await normalisedState(t.deps.database.db, s)).toEqual(reference);
        },
      ),
      { numRuns: 15 },
    );
  });
});
