import http from 'node:http';
import https from 'node:https';

// One HTTP attempt of a delivery, over node:http(s) so that a timed-out attempt's socket is
// destroyed (never reused for the next event). Redirects are not followed: a receiver that
// moved must be reconfigured, and following one would send signed events to a host nobody
// configured. Credentials in the URL become Basic authentication.

export interface SendResult {
  /** 2xx within the timeout. */
  ok: boolean;
  /** The HTTP status, or null when no answer came (timeout, refused, reset). */
  status: number | null;
  /** Why it failed, for the delivery row and the log; null when ok. */
  error: string | null;
  durationMs: number;
}

export interface SendInput {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** From sending to the status line (a 2xx after it is a failure). */
  timeoutMs: number;
  /** Keep-alive agents and parsed URLs, shared by every attempt of a worker; absent: neither is kept. */
  agents?: Agents;
}

/** What an attempt needs of its URL. */
export interface Target {
  secure: boolean;
  protocol: string;
  hostname: string;
  port: string | undefined;
  path: string;
  auth: string | undefined;
}

export interface Agents {
  http: http.Agent;
  https: https.Agent;
  /**
   * Each receiver's URL, parsed on its first attempt: the URLs are the few of
   * EVENTS_WEBHOOK_URLS, and parsing one on every attempt showed in the ingest's profile.
   */
  targets: Map<string, Target>;
}

/**
 * Rows written under an earlier configuration may name other URLs; past this many, the
 * parsed ones are dropped and parsed again as they come.
 */
const MAX_TARGETS = 64;

/**
 * Keep-alive agents without a socket cap: the lanes bound the attempts in flight, and a cap
 * would make an attempt wait (its timeout running) behind a socket whose answer is still
 * trickling in.
 */
export function createAgents(): Agents {
  return {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
    targets: new Map(),
  };
}

function parseTarget(input: string): Target {
  const url = new URL(input);
  return {
    secure: url.protocol === 'https:',
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || undefined,
    path: `${url.pathname}${url.search}`,
    auth: url.username || url.password ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
  };
}

function targetOf(url: string, agents: Agents | undefined): Target {
  if (agents === undefined) return parseTarget(url);
  let target = agents.targets.get(url);
  if (target === undefined) {
    target = parseTarget(url);
    if (agents.targets.size >= MAX_TARGETS) agents.targets.clear();
    agents.targets.set(url, target);
  }
  return target;
}

function failureOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

export function sendWebhook(input: SendInput): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const target = targetOf(input.url, input.agents);
  const secure = target.secure;
  const body = Buffer.from(input.body, 'utf8');
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const settle = (result: Omit<SendResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...result, durationMs: elapsed() });
    };
    const request = (secure ? https : http).request(
      {
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        path: target.path,
        method: 'POST',
        ...(target.auth !== undefined ? { auth: target.auth } : {}),
        agent: input.agents ? (secure ? input.agents.https : input.agents.http) : undefined,
        headers: {
          'content-type': 'application/json',
          'content-length': String(body.length),
          'user-agent': 'app-store-entitlements',
          ...input.headers,
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        // The answer's body means nothing to us; read and drop it so the socket can be reused.
        // The timer stays until it ends: a body that never ends must not hold a socket for good.
        response.on('end', () => clearTimeout(timer));
        response.on('close', () => clearTimeout(timer));
        // Cut off mid-body (the timer, a reset): the status already decided the outcome.
        response.on('error', () => clearTimeout(timer));
        response.resume();
        const ok = status >= 200 && status < 300;
        settle({
          ok,
          status,
          error: ok ? null : status >= 300 && status < 400 ? `redirect ${status} (not followed)` : `HTTP ${status}`,
        });
      },
    );
    const timer = setTimeout(() => {
      settle({ ok: false, status: null, error: 'timeout' });
      request.destroy();
    }, input.timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      settle({ ok: false, status: null, error: failureOf(error) });
    });
    request.end(body);
  });
}
