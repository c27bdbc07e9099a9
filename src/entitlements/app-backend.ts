import type { App, AppDeps } from '../app.js';
import { createTransactionsRepository } from '../users/transactions.repository.js';
import { createUsersRepository } from '../users/users.repository.js';
import { usersRoutes } from '../users/users.routes.js';
import { createUsersUsecase } from '../users/users.usecase.js';
import { createEntitlementsRepository } from './entitlements.repository.js';
import { entitlementsRoutes } from './entitlements.routes.js';
import { createEntitlementsUsecase } from './entitlements.usecase.js';
import { refreshPurchases } from './refresh.usecase.js';

export type EntitlementsDeps = Pick<AppDeps, 'database' | 'appStoreApi' | 'entitlementMap' | 'clock' | 'logger' | 'verifier'>;

/** The entitlements use case over the app's dependencies: routes, receipts and the CLI share it. */
export function entitlementsFromDeps(deps: EntitlementsDeps) {
  const db = deps.database.db;
  const api = deps.appStoreApi;
  return createEntitlementsUsecase({
    repository: createEntitlementsRepository({ database: deps.database }),
    entitlementMap: deps.entitlementMap,
    clock: deps.clock,
    logger: deps.logger,
    refresh: api === null ? null : (purchases) => refreshPurchases({ db, appStoreApi: api, verifier: deps.verifier, clock: deps.clock }, purchases),
  });
}

/** Wires and registers the app-backend API: GET /entitlements/:userId and /users/:userId/*. */
export async function registerAppBackendRoutes(app: App, deps: AppDeps): Promise<void> {
  const db = deps.database.db;
  const api = deps.appStoreApi;
  const entitlements = entitlementsFromDeps(deps);
  const users = createUsersUsecase({
    db,
    users: createUsersRepository({ db }),
    transactions: createTransactionsRepository({ db }),
    entitlements,
    verifier: deps.verifier,
    appStoreApi: api,
    environments: deps.config.apple.environments,
    transferPolicy: deps.config.transferPolicy,
    clock: deps.clock,
  });
  await app.register(entitlementsRoutes, { entitlements });
  await app.register(usersRoutes, { users });
}
