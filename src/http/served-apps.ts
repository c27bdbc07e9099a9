import type { FastifyRequest } from 'fastify';
import type { AppServices } from '../app-services.js';
import { badRequest } from '../errors.js';
import type { Services } from '../services.js';

/**
 * The routes' way to the use cases of the app a request acts for: explicit in each handler
 * (`apps.of(request).users`), never implied by context. The key checks (auth.ts) set
 * `request.appId`; the webhooks choose by the bundle id their body names. The look-ups are
 * the registry's (Services.of/ofBundleId, app-registry.ts indexApps); this adds only the
 * per-request choice: the only app when there is one, 400 APP_REQUIRED when none is named.
 */
export interface ServedApps {
  /** The use cases of `request.appId`; with several apps and none named, 400 APP_REQUIRED. */
  of(request: FastifyRequest): AppServices;
  /** The app of a bundle id; null for a bundle no app has. With one app, that app whatever the bundle (its own checks answer). */
  byBundleId(bundleId: string | null): AppServices | null;
  readonly all: readonly AppServices[];
}

export function servedApps(services: Pick<Services, 'all' | 'of' | 'ofBundleId'>): ServedApps {
  const all = services.all;
  const only = all.length === 1 ? all[0]! : null;
  return {
    all,
    of(request) {
      const appId = request.appId;
      if (appId === undefined) {
        if (only !== null) return only;
        throw badRequest('APP_REQUIRED', 'This installation serves several apps: name one with the X-App-Id header');
      }
      const found = services.of(appId);
      // auth.ts admits only the installation's ids; a miss here is a bug, not the caller's.
      if (found === null) throw new Error(`request.appId "${appId}" is no app of this installation`);
      return found;
    },
    byBundleId(bundleId) {
      if (only !== null) return only;
      return bundleId === null ? null : services.ofBundleId(bundleId);
    },
  };
}
