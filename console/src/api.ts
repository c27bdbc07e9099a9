// The console's only way to data: the service's admin routes, with the admin key from this
// tab's sessionStorage in the Authorization header (never in a URL), and the app the tab
// acts for in X-App-Id (SPEC "Several apps").

const KEY_ITEM = 'entitlements-console.admin-key';
const APP_ITEM = 'entitlements-console.app';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY_ITEM),
  signIn: (key: string): void => sessionStorage.setItem(KEY_ITEM, key),
  signOut: (): void => sessionStorage.removeItem(KEY_ITEM),
};

/** One app of the installation, as GET /admin/apps lists it. */
export interface AppSummary {
  id: string;
  bundleId: string;
  environments: string[];
  apiConfigured: boolean;
  v1: boolean;
}

let installationApps: AppSummary[] | null = null;
let chosenApp: string | null = null;

/**
 * The installation's apps and the one this tab acts for. The choice lives in memory, so two
 * tabs can look at two apps; localStorage only remembers the last one chosen for the next tab.
 */
export const apps = {
  /** null until loaded (after sign-in). */
  list: (): AppSummary[] | null => installationApps,
  current: (): string | null => chosenApp,
  /** Keeps this tab's choice when it is still an app, else the one last chosen in this browser, else the first. */
  load(list: AppSummary[]): void {
    installationApps = list;
    const ids = list.map((app) => app.id);
    const remembered = readRemembered();
    chosenApp = [chosenApp, remembered].find((id) => id !== null && ids.includes(id)) ?? ids[0] ?? null;
  },
  choose(id: string): void {
    chosenApp = id;
    try {
      localStorage.setItem(APP_ITEM, id);
    } catch {
      // Storage refused (a private window's quota): the choice still holds for this tab.
    }
  },
  forget(): void {
    installationApps = null;
    chosenApp = null;
  },
};

function readRemembered(): string | null {
  try {
    return localStorage.getItem(APP_ITEM);
  } catch {
    return null;
  }
}

/** Called when the service refuses the key (401/403): the app goes back to sign-in. */
let onRefused: () => void = () => {};
export function whenKeyRefused(handler: () => void): void {
  onRefused = handler;
}

type Query = Record<string, string | number | boolean | undefined>;

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/**
 * Every admin call the console makes. `app: false` leaves X-App-Id out (GET /admin/apps,
 * which must answer even when the app remembered is gone).
 */
export async function call<T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { query?: Query; body?: unknown; key?: string; app?: false } = {},
): Promise<T> {
  const key = options.key ?? session.key();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const app = options.app === false ? null : chosenApp;
  if (app !== null) headers['x-app-id'] = app;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, 'NETWORK_ERROR', 'The service did not answer (network error)');
  }
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    const failure = new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? `HTTP ${response.status}`);
    if ((response.status === 401 || response.status === 403) && options.key === undefined) onRefused();
    throw failure;
  }
  return json as T;
}

/** Encodes one path segment (user ids may hold any character). */
export const segment = (value: string): string => encodeURIComponent(value);

/** GET /admin/apps, which also checks the key (401/403 for one that is not an admin key). */
export async function loadApps(key?: string): Promise<AppSummary[]> {
  const answer = await call<{ apps: AppSummary[] }>('GET', '/admin/apps', { app: false, ...(key !== undefined ? { key } : {}) });
  apps.load(answer.apps);
  return answer.apps;
}
