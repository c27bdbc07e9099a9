import { afterAll, afterEach, beforeAll } from 'vitest';
import { type ApiCallEvent, type AppStoreServerApi, type AppStoreServerApiOptions, createAppStoreServerApi } from '../../../src/apple/api/index.js';
import { type AppStoreApiDouble, createAppStoreApiDouble } from '../../helpers/app-store-api-double.js';

export interface ApiFixture {
  double: AppStoreApiDouble;
  /** Delays the client asked to sleep, in order; nothing actually sleeps. */
  sleeps: number[];
  calls: ApiCallEvent[];
  client(overrides?: Partial<AppStoreServerApiOptions>): AppStoreServerApi;
}

/** One double per test file; recorded requests and scripts are cleared between tests. */
export function useApiDouble(): ApiFixture {
  const fixture = { sleeps: [] as number[], calls: [] as ApiCallEvent[] } as ApiFixture;
  beforeAll(async () => {
    fixture.double = await createAppStoreApiDouble();
  });
  afterAll(async () => {
    await fixture.double.close();
  });
  afterEach(() => {
    fixture.double.requests.length = 0;
    fixture.double.rejected.length = 0;
    fixture.double.reset();
    fixture.sleeps.length = 0;
    fixture.calls.length = 0;
  });
  fixture.client = (overrides = {}) =>
    createAppStoreServerApi({
      ...fixture.double.credentials,
      baseUrl: fixture.double.url,
      random: () => 0.5,
      sleep: async (ms) => {
        fixture.sleeps.push(ms);
      },
      onCall: (event) => fixture.calls.push(event),
      ...overrides,
    });
  return fixture;
}
