import { describe, expect, it } from 'vitest';
import type { AppStoreServerEnvironmentApi } from '../../../src/apple/api/index.js';
import { useApiDouble } from './fixture.js';

interface EndpointCase {
  name: string;
  call: (api: AppStoreServerEnvironmentApi) => Promise<unknown>;
  method: string;
  path: string;
  query?: Record<string, string[]>;
  body?: unknown;
}

const cases: EndpointCase[] = [
  {
    name: 'getTransactionInfo',
    call: (api) => api.getTransactionInfo('2000000000000001'),
    method: 'GET',
    path: '/inApps/v1/transactions/2000000000000001',
  },
  {
    name: 'getTransactionHistory (v2 by default, every filter)',
    call: (api) =>
      api.getTransactionHistory('2000000000000001', {
        revision: 'rev-1',
        startDate: 1_700_000_000_000,
        endDate: new Date(1_700_000_100_000),
        productIds: ['com.example.a', 'com.example.b'],
        productTypes: ['AUTO_RENEWABLE', 'CONSUMABLE'],
        sort: 'DESCENDING',
        subscriptionGroupIdentifiers: ['g1', 'g2'],
        inAppOwnershipType: 'FAMILY_SHARED',
        revoked: false,
      }),
    method: 'GET',
    path: '/inApps/v2/history/2000000000000001',
    query: {
      revision: ['rev-1'],
      startDate: ['1700000000000'],
      endDate: ['1700000100000'],
      productId: ['com.example.a', 'com.example.b'],
      productType: ['AUTO_RENEWABLE', 'CONSUMABLE'],
      sort: ['DESCENDING'],
      subscriptionGroupIdentifier: ['g1', 'g2'],
      inAppOwnershipType: ['FAMILY_SHARED'],
      revoked: ['false'],
    },
  },
  {
    name: 'getTransactionHistory v1',
    call: (api) => api.getTransactionHistory('2000000000000001', { version: 'v1' }),
    method: 'GET',
    path: '/inApps/v1/history/2000000000000001',
    query: {},
  },
  {
    name: 'getAllSubscriptionStatuses with a status filter',
    call: (api) => api.getAllSubscriptionStatuses('2000000000000001', [1, 4]),
    method: 'GET',
    path: '/inApps/v1/subscriptions/2000000000000001',
    query: { status: ['1', '4'] },
  },
  {
    name: 'getNotificationHistory with a type filter and a pagination token',
    call: (api) =>
      api.getNotificationHistory(
        {
          startDate: new Date(1_700_000_000_000),
          endDate: 1_700_086_400_000,
          notificationType: 'SUBSCRIBED',
          notificationSubtype: 'INITIAL_BUY',
          onlyFailures: true,
        },
        'token-2',
      ),
    method: 'POST',
    path: '/inApps/v1/notifications/history',
    query: { paginationToken: ['token-2'] },
    body: {
      startDate: 1_700_000_000_000,
      endDate: 1_700_086_400_000,
      notificationType: 'SUBSCRIBED',
      notificationSubtype: 'INITIAL_BUY',
      onlyFailures: true,
    },
  },
  {
    name: 'getNotificationHistory by transaction id',
    call: (api) => api.getNotificationHistory({ startDate: 1, endDate: 2, transactionId: '2000000000000001' }),
    method: 'POST',
    path: '/inApps/v1/notifications/history',
    query: {},
    body: { startDate: 1, endDate: 2, transactionId: '2000000000000001' },
  },
  {
    name: 'requestTestNotification',
    call: (api) => api.requestTestNotification(),
    method: 'POST',
    path: '/inApps/v1/notifications/test',
  },
  {
    name: 'getTestNotificationStatus',
    call: (api) => api.getTestNotificationStatus('ce3af791-365e-4c60-841b-1674b43c1609_1700000000000'),
    method: 'GET',
    path: '/inApps/v1/notifications/test/ce3af791-365e-4c60-841b-1674b43c1609_1700000000000',
  },
  {
    name: 'lookUpOrderId',
    call: (api) => api.lookUpOrderId('MQ5ZQ8KL9X'),
    method: 'GET',
    path: '/inApps/v1/lookup/MQ5ZQ8KL9X',
  },
  {
    name: 'setAppAccountToken',
    call: (api) => api.setAppAccountToken('2000000000000001', { appAccountToken: '7e3fb20b-4cdb-47cc-936d-99d65f608138' }),
    method: 'PUT',
    path: '/inApps/v1/transactions/2000000000000001/appAccountToken',
    body: { appAccountToken: '7e3fb20b-4cdb-47cc-936d-99d65f608138' },
  },
  {
    name: 'sendConsumptionInformation (v2)',
    call: (api) =>
      api.sendConsumptionInformation('2000000000000001', {
        customerConsented: true,
        sampleContentProvided: false,
        deliveryStatus: 'DELIVERED',
        consumptionPercentage: 25000,
        refundPreference: 'GRANT_PRORATED',
      }),
    method: 'PUT',
    path: '/inApps/v2/transactions/consumption/2000000000000001',
    body: {
      customerConsented: true,
      sampleContentProvided: false,
      deliveryStatus: 'DELIVERED',
      consumptionPercentage: 25000,
      refundPreference: 'GRANT_PRORATED',
    },
  },
  {
    name: 'extendSubscriptionRenewalDate',
    call: (api) =>
      api.extendSubscriptionRenewalDate('2000000000000001', {
        extendByDays: 7,
        extendReasonCode: 3,
        requestIdentifier: 'b1c4c2a9-2f58-4b8c-9a39-1a0bb1c4f6f2',
      }),
    method: 'PUT',
    path: '/inApps/v1/subscriptions/extend/2000000000000001',
    body: { extendByDays: 7, extendReasonCode: 3, requestIdentifier: 'b1c4c2a9-2f58-4b8c-9a39-1a0bb1c4f6f2' },
  },
  {
    name: 'extendRenewalDateForAllActiveSubscribers',
    call: (api) =>
      api.extendRenewalDateForAllActiveSubscribers({
        extendByDays: 3,
        extendReasonCode: 1,
        requestIdentifier: 'req-1',
        productId: 'com.example.monthly',
        storefrontCountryCodes: ['USA', 'FRA'],
      }),
    method: 'POST',
    path: '/inApps/v1/subscriptions/extend/mass',
    body: {
      extendByDays: 3,
      extendReasonCode: 1,
      requestIdentifier: 'req-1',
      productId: 'com.example.monthly',
      storefrontCountryCodes: ['USA', 'FRA'],
    },
  },
  {
    name: 'getStatusOfSubscriptionRenewalDateExtensions (product id first in the path)',
    call: (api) => api.getStatusOfSubscriptionRenewalDateExtensions('req-1', 'com.example.monthly'),
    method: 'GET',
    path: '/inApps/v1/subscriptions/extend/mass/com.example.monthly/req-1',
  },
];

describe('App Store Server API endpoints', () => {
  const fixture = useApiDouble();

  it.each(cases)('$name sends the documented method, path, query and body', async (c) => {
    const api = fixture.client().forEnvironment('Production');
    await c.call(api);

    expect(fixture.double.rejected).toEqual([]);
    expect(fixture.double.requests).toHaveLength(1);
    const [request] = fixture.double.requests;
    expect(request?.method).toBe(c.method);
    expect(request?.path).toBe(c.path);
    expect(request?.query).toEqual(c.query ?? {});
    expect(request?.body).toEqual(c.body);
    if (c.body !== undefined) expect(request?.headers['content-type']).toBe('application/json');
    else expect(request?.headers['content-type']).toBeUndefined();
  });

  it('covers every method of the environment API that talks to Apple directly', () => {
    const api = fixture.client().forEnvironment('Sandbox');
    const direct = Object.keys(api).filter((name) => name !== 'environment' && !name.startsWith('iterate') && !name.endsWith('Verified'));
    const covered = new Set(cases.map((c) => c.name.split(' ')[0]));
    expect(direct.filter((name) => !covered.has(name))).toEqual([]);
  });

  it('returns the JSON object Apple answers with', async () => {
    fixture.double.reply('GET', '/inApps/v1/transactions/1', { body: { signedTransactionInfo: 'a.b.c' } });
    const answer = await fixture.client().forEnvironment('Production').getTransactionInfo('1');
    expect(answer).toEqual({ signedTransactionInfo: 'a.b.c' });
  });

  it('percent-encodes identifiers so they cannot change the path', async () => {
    await fixture.client().forEnvironment('Production').lookUpOrderId('../../notifications/test');
    expect(fixture.double.requests[0]?.path).toBe('/inApps/v1/lookup/..%2F..%2Fnotifications%2Ftest');
  });

  it('rejects an empty identifier before sending anything', async () => {
    await expect(fixture.client().forEnvironment('Production').getTransactionInfo('')).rejects.toThrow(RangeError);
    expect(fixture.double.requests).toHaveLength(0);
  });

  it('refuses environments that have no App Store Server API', () => {
    expect(() => fixture.client().forEnvironment('Xcode' as 'Sandbox')).toThrow(RangeError);
  });

  it('keeps a path prefix of the base URL override', async () => {
    const api = fixture.client({ baseUrl: `${fixture.double.url}/proxy/` }).forEnvironment('Sandbox');
    await api.getTransactionInfo('1');
    expect(fixture.double.requests[0]?.path).toBe('/proxy/inApps/v1/transactions/1');
  });
});
