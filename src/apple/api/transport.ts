import type { Clock } from '../../clock.js';
import { noopTracing, type Tracing } from '../../tracing/tracing.js';
import { backoffDelay, parseRetryAfter } from './backoff.js';
import { APIError, AppStoreApiError, apiErrorName, RETRYABLE_API_ERRORS } from './errors.js';

export type ApiEnvironment = 'Production' | 'Sandbox';
export type HttpMethod = 'GET' | 'POST' | 'PUT';

export interface ApiCallEvent {
  endpoint: string;
  environment: string;
  status: number | 'network_error';
  durationMs: number;
  attempt: number;
}

export interface ApiRequest {
  /** Apple's operation name, e.g. `getTransactionInfo`; used in errors and metrics. */
  endpoint: string;
  method: HttpMethod;
  /** Already percent-encoded path, starting with `/inApps/`. */
  path: string;
  query?: URLSearchParams;
  /** Sent as JSON. */
  json?: unknown;
  /** Whether a 2xx answer carries a JSON object to return. */
  expectBody: boolean;
}

export interface TransportOptions {
  baseUrls: Record<ApiEnvironment, string>;
  token: () => Promise<string>;
  fetch: typeof fetch;
  clock: Clock;
  timeoutMs: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A `Retry-After` longer than this ends the retries: the caller should reschedule instead. */
  maxRetryAfterMs: number;
  random: () => number;
  sleep: (ms: number) => Promise<void>;
  onCall?: (event: ApiCallEvent) => void;
  userAgent: string;
  /** An `apple_api.<endpoint>` span per attempt. */
  tracing?: Tracing;
}

export type Send = <T>(environment: ApiEnvironment, request: ApiRequest) => Promise<T>;

/** One HTTP exchange with Apple, with timeout, bounded retries and typed errors. */
export function createTransport(options: TransportOptions): Send {
  async function attemptOnce(environment: ApiEnvironment, request: ApiRequest, attempt: number): Promise<unknown> {
    const token = await options.token();
    const headers: Record<string, string> = {
      authorization: `Bearer ${token}`,
      accept: 'application/json',
      'user-agent': options.userAgent,
    };
    let body: string | undefined;
    if (request.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(request.json);
    }
    const query = request.query?.toString();
    const url = `${options.baseUrls[environment]}${request.path}${query ? `?${query}` : ''}`;

    const signal = AbortSignal.timeout(options.timeoutMs);
    const started = performance.now();
    const report = (status: number | 'network_error') => {
      try {
        options.onCall?.({
          endpoint: request.endpoint,
          environment,
          status,
          durationMs: performance.now() - started,
          attempt,
        });
      } catch {
        // A broken metrics hook must not turn a good answer from Apple into a failure.
      }
    };

    let response: Response;
    let text: string;
    try {
      response = await options.fetch(url, { method: request.method, headers, body, signal });
      // The body is read under the same signal so a stalled body also times out.
      text = await response.text();
    } catch (cause) {
      report('network_error');
      const timedOut = signal.aborted;
      throw new AppStoreApiError(
        timedOut ? 'API_TIMEOUT' : 'API_UNREACHABLE',
        timedOut ? `${request.endpoint}: no answer within ${options.timeoutMs} ms` : `${request.endpoint}: App Store Server API unreachable`,
        { retryable: true, endpoint: request.endpoint, cause },
      );
    }
    report(response.status);

    if (response.ok) {
      if (!request.expectBody) return undefined;
      return parseObject(text, request.endpoint, response.status);
    }
    throw errorFromResponse(response, text, request.endpoint, options.clock());
  }

  const tracing = options.tracing ?? noopTracing;
  const attemptTraced = (environment: ApiEnvironment, request: ApiRequest, attempt: number): Promise<unknown> => {
    if (!tracing.enabled) return attemptOnce(environment, request, attempt);
    const attributes = {
      'http.request.method': request.method,
      'appstore.api.endpoint': request.endpoint,
      'appstore.environment': environment,
      'appstore.api.attempt': attempt,
    };
    return tracing.span(`apple_api.${request.endpoint}`, { kind: 'client', attributes }, async (span) => {
      try {
        return await attemptOnce(environment, request, attempt);
      } catch (error) {
        const status = (error as { httpStatus?: unknown }).httpStatus;
        if (typeof status === 'number') span.setAttributes({ 'http.response.status_code': status });
        throw error;
      }
    });
  };

  return async <T>(environment: ApiEnvironment, request: ApiRequest): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await attemptTraced(environment, request, attempt)) as T;
      } catch (error) {
        if (!(error instanceof AppStoreApiError) || !error.retryable || attempt >= options.maxAttempts) throw error;
        const delay = error.retryAfter !== null ? error.retryAfter * 1000 : backoffDelay(attempt, options);
        if (delay > options.maxRetryAfterMs) throw error;
        await options.sleep(delay);
      }
    }
  };
}

function parseObject(text: string, endpoint: string, httpStatus: number): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new AppStoreApiError('API_BAD_RESPONSE', `${endpoint}: answer is not JSON`, { httpStatus, endpoint, cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppStoreApiError('API_BAD_RESPONSE', `${endpoint}: answer is not a JSON object`, { httpStatus, endpoint });
  }
  return value;
}

function errorFromResponse(response: Response, text: string, endpoint: string, now: Date): AppStoreApiError {
  let apiError: number | null = null;
  let apiMessage: string | null = null;
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null) {
      const { errorCode, errorMessage } = body as { errorCode?: unknown; errorMessage?: unknown };
      if (typeof errorCode === 'number' && Number.isInteger(errorCode)) apiError = errorCode;
      if (typeof errorMessage === 'string') apiMessage = errorMessage;
    }
  } catch {
    // Error bodies are optional (401 has none); the status alone still says what happened.
  }
  const status = response.status;
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'), now);
  const rateLimited = status === 429 || apiError === APIError.RATE_LIMIT_EXCEEDED;
  const retryable = status >= 500 || rateLimited || (apiError !== null && RETRYABLE_API_ERRORS.has(apiError));
  const named = apiError === null ? '' : ` ${apiErrorName(apiError) ?? 'unknown error'} (${apiError})`;
  return new AppStoreApiError(rateLimited ? 'API_RATE_LIMITED' : 'API_ERROR', `${endpoint}: HTTP ${status}${named}${apiMessage ? `: ${apiMessage}` : ''}`, {
    httpStatus: status,
    apiError,
    retryAfter,
    retryable,
    endpoint,
  });
}
