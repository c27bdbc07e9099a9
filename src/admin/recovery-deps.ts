import type { AppDeps } from '../app.js';
import { ingestNotification } from '../notifications/ingest.usecase.js';
import type { RecoveryDeps } from './recovery.usecase.js';

/** Recovery's dependencies from the app's, or null without App Store Server API credentials. */
export function recoveryDepsFrom(deps: AppDeps): RecoveryDeps | null {
  if (deps.appStoreApi === null) return null;
  const ingestDeps = {
    db: deps.database.db,
    verifier: deps.verifier,
    clock: deps.clock,
    logger: deps.logger,
    events: deps.events,
  };
  return {
    api: deps.appStoreApi,
    environments: deps.config.apple.environments,
    // The webhook's own path: same verification, same exactly-once record, so a
    // notification recovered and later redelivered (or the reverse) is applied once.
    ingest: (signedPayload) => ingestNotification(ingestDeps, { signedPayload, source: 'recovery' }),
    clock: deps.clock,
    logger: deps.logger,
  };
}
