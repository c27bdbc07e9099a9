import { describe, expect, it } from 'vitest';
import { AppStoreApiError } from '../../../src/apple/api/index.js';
import { useApiDouble } from './fixture.js';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

describe('App Store Server API paging', () => {
  const fixture = useApiDouble();

  it('follows revision through transaction history until hasMore is false, keeping the filters', async () => {
    fixture.double.reply('GET', '/inApps/v2/history/1', (request) => {
      const revision = request.query.revision?.[0];
      if (revision === undefined) return { body: { revision: 'r1', hasMore: true, signedTransactions: ['a'] } };
      if (revision === 'r1') return { body: { revision: 'r2', hasMore: true, signedTransactions: ['b'] } };
      return { body: { revision: 'r3', hasMore: false, signedTransactions: ['c'] } };
    });
    const api = fixture.client().forEnvironment('Production');
    const pages = await collect(api.iterateTransactionHistory('1', { productIds: ['p'], sort: 'ASCENDING' }));

    expect(pages.flatMap((p) => p.signedTransactions)).toEqual(['a', 'b', 'c']);
    expect(fixture.double.requests.map((r) => r.query)).toEqual([
      { productId: ['p'], sort: ['ASCENDING'] },
      { revision: ['r1'], productId: ['p'], sort: ['ASCENDING'] },
      { revision: ['r2'], productId: ['p'], sort: ['ASCENDING'] },
    ]);
  });

  it('pages the v1 transaction history when asked', async () => {
    fixture.double.reply('GET', '/inApps/v1/history/1', { body: { hasMore: false, signedTransactions: [] } });
    await collect(fixture.client().forEnvironment('Production').iterateTransactionHistory('1', { version: 'v1' }));
    expect(fixture.double.requests.map((r) => r.path)).toEqual(['/inApps/v1/history/1']);
  });

  it('follows paginationToken through notification history, resending the same body', async () => {
    fixture.double.reply(
      'POST',
      '/inApps/v1/notifications/history',
      { body: { paginationToken: 't1', hasMore: true, notificationHistory: [{ signedPayload: 'n1' }] } },
      { body: { paginationToken: 't2', hasMore: true, notificationHistory: [{ signedPayload: 'n2' }] } },
      { body: { hasMore: false, notificationHistory: [{ signedPayload: 'n3' }] } },
    );
    const request = { startDate: 1_000, endDate: 2_000, onlyFailures: true };
    const pages = await collect(fixture.client().forEnvironment('Production').iterateNotificationHistory(request));

    expect(pages.flatMap((p) => p.notificationHistory?.map((n) => n.signedPayload))).toEqual(['n1', 'n2', 'n3']);
    expect(fixture.double.requests.map((r) => r.query)).toEqual([{}, { paginationToken: ['t1'] }, { paginationToken: ['t2'] }]);
    expect(fixture.double.requests.every((r) => JSON.stringify(r.body) === JSON.stringify(request))).toBe(true);
  });

  it('resumes notification history from a pagination token the caller saved', async () => {
    fixture.double.reply('POST', '/inApps/v1/notifications/history', { body: { hasMore: false, notificationHistory: [] } });
    await collect(fixture.client().forEnvironment('Production').iterateNotificationHistory({ startDate: 1, endDate: 2 }, 'saved'));
    expect(fixture.double.requests[0]?.query).toEqual({ paginationToken: ['saved'] });
  });

  it('stops with API_BAD_RESPONSE when Apple says hasMore but gives no new cursor', async () => {
    fixture.double.reply('POST', '/inApps/v1/notifications/history', { body: { paginationToken: 'same', hasMore: true } });
    const iterator = fixture.client().forEnvironment('Production').iterateNotificationHistory({ startDate: 1, endDate: 2 }, 'same');
    const error = await collect(iterator).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppStoreApiError);
    expect(error).toMatchObject({ code: 'API_BAD_RESPONSE' });
    expect(fixture.double.requests).toHaveLength(1);
  });

  it('retries a failed page without restarting from the first one', async () => {
    fixture.double.reply(
      'GET',
      '/inApps/v2/history/1',
      { body: { revision: 'r1', hasMore: true, signedTransactions: ['a'] } },
      { status: 503 },
      { body: { revision: 'r2', hasMore: false, signedTransactions: ['b'] } },
    );
    const pages = await collect(fixture.client().forEnvironment('Production').iterateTransactionHistory('1'));
    expect(pages).toHaveLength(2);
    expect(fixture.double.requests.map((r) => r.query.revision?.[0])).toEqual([undefined, 'r1', 'r1']);
  });
});
