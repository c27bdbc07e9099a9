import { describe, expect, it } from 'vitest';
import {
  COUNT_METRICS,
  type CustomerLike,
  countSeries,
  customerTimeline,
  PERIODS,
  type Period,
  periodWindow,
  rankedCounts,
  revenueSeries,
} from '../../console/src/shape.js';
import { METRICS, parseWindow } from '../../src/analytics/analytics.model.js';

describe("the console's data shaping", () => {
  it('turns a period into a UTC window ending with today and the bucket size for it', () => {
    const now = new Date('2026-12-02T15:00:00Z');
    expect(periodWindow('7d', now)).toEqual({ from: '2026-11-26T00:00:00.000Z', to: '2026-12-03T00:00:00.000Z', interval: 'day' });
    expect(periodWindow('90d', now)).toMatchObject({ from: '2026-09-04T00:00:00.000Z', interval: 'week' });
    expect(periodWindow('12m', now)).toEqual({ from: '2025-12-01T00:00:00.000Z', to: '2026-12-03T00:00:00.000Z', interval: 'month' });
  });

  it("asks for windows the analytics routes accept, whose first bucket is the service's own", () => {
    const now = new Date('2026-03-31T23:30:00Z');
    for (const period of Object.keys(PERIODS) as Period[]) {
      const window = periodWindow(period, now);
      const parsed = parseWindow(window);
      expect(parsed.to.toISOString()).toBe('2026-04-01T00:00:00.000Z');
      if (window.interval !== 'week') expect(parsed.starts[0]?.toISOString()).toBe(window.from);
    }
    expect(periodWindow('12m', now).from).toBe('2025-04-01T00:00:00.000Z');
  });

  it("charts every count metric the service has, in the service's order", () => {
    expect(COUNT_METRICS).toEqual(METRICS.filter((metric) => metric !== 'revenue'));
    expect(COUNT_METRICS[0]).toBe('new_subscriptions');
  });

  it('lines several count metrics up on the same buckets, 0 where one has no point, with totals', () => {
    const data = countSeries([
      {
        metric: 'new_subscriptions',
        points: [
          { start: '2026-12-01T00:00:00.000Z', value: 3 },
          { start: '2026-12-02T00:00:00.000Z', value: 1 },
        ],
      },
      { metric: 'refunds', points: [{ start: '2026-12-02T00:00:00.000Z', value: 2 }] },
    ]);
    expect(data.labels).toEqual(['new_subscriptions', 'refunds']);
    expect(data.columns).toEqual([
      [Date.parse('2026-12-01T00:00:00Z') / 1000, Date.parse('2026-12-02T00:00:00Z') / 1000],
      [3, 1],
      [0, 2],
    ]);
    expect(data.total).toEqual([4, 2]);
  });

  it('makes one revenue series per currency, sorted, with totals rounded to cents', () => {
    const data = revenueSeries([
      { start: '2026-11-01T00:00:00.000Z', byCurrency: { USD: 9.99, EUR: 8.99 } },
      { start: '2026-12-01T00:00:00.000Z', byCurrency: { USD: 0.1 } },
      { start: '2027-01-01T00:00:00.000Z', byCurrency: { USD: 0.2 } },
    ]);
    expect(data.labels).toEqual(['EUR', 'USD']);
    expect(data.columns.slice(1)).toEqual([
      [8.99, 0, 0],
      [9.99, 0.1, 0.2],
    ]);
    expect(data.total).toEqual([8.99, 10.29]);
    expect(revenueSeries([]).labels).toEqual([]);
  });

  it('ranks counts largest first, ties by name', () => {
    expect(rankedCounts({ b: 2, a: 2, c: 5 })).toEqual([
      ['c', 5],
      ['a', 2],
      ['b', 2],
    ]);
  });

  it("orders a customer's purchases, renewals, refunds, links and grants newest first", () => {
    const tx = (id: string, date: string, extra: Partial<CustomerLike['purchases'][number]['transactions'][number]> = {}) => ({
      transactionId: id,
      originalTransactionId: '100',
      productId: 'pro.monthly',
      purchaseDate: date,
      originalPurchaseDate: null,
      expiresDate: null,
      revocationDate: null,
      revocationReason: null,
      price: 9990,
      currency: 'USD',
      environment: 'Production',
      ...extra,
    });
    const customer: CustomerLike = {
      userId: 'u-1',
      purchases: [
        {
          originalTransactionId: '100',
          transactions: [tx('101', '2026-11-01T00:00:00Z', { revocationDate: '2026-11-05T00:00:00Z', revocationReason: 1 }), tx('100', '2026-10-01T00:00:00Z')],
        },
      ],
      links: [
        {
          originalTransactionId: '100',
          history: [{ originalTransactionId: '100', fromUserId: null, toUserId: 'u-1', reason: 'transaction', at: '2026-10-01T00:00:01Z' }],
        },
      ],
      formerLinks: [{ originalTransactionId: '200', fromUserId: 'u-1', toUserId: 'u-2', reason: 'transfer', at: '2026-11-10T00:00:00Z' }],
      grants: [
        {
          grantId: 'grt_1',
          entitlement: 'pro',
          startsAt: '2026-11-20T00:00:00Z',
          expiresDate: '2026-12-20T00:00:00Z',
          reason: 'beta',
          endedAt: '2026-11-25T00:00:00Z',
        },
      ],
    };
    expect(customerTimeline(customer).map((entry) => [entry.kind, entry.title])).toEqual([
      ['grant_end', 'Grant of pro ended early'],
      ['grant', 'Granted pro'],
      ['unlink', 'Purchase 200 moved to u-2'],
      ['refund', 'Refunded pro.monthly'],
      ['renewal', 'Renewed pro.monthly'],
      ['link', 'Purchase 100 linked'],
      ['purchase', 'Purchased pro.monthly'],
    ]);
    expect(customerTimeline(customer).find((entry) => entry.kind === 'renewal')?.price).toEqual({ milliunits: 9990, currency: 'USD' });
  });
});
