import { V1FormatError } from '../v1/errors.js';
import { parseArray, parseLatestReceiptInfo, parsePendingRenewalInfo } from '../v1/receipt-info.js';
import type { V1LatestReceiptInfo, V1PendingRenewalInfo } from '../v1/types.js';
import { VerifyReceiptError } from './errors.js';
import { meaningOfStatus } from './status-codes.js';

export const VERIFY_RECEIPT_PRODUCTION_URL = 'https://buy.itunes.apple.com/verifyReceipt';
export const VERIFY_RECEIPT_SANDBOX_URL = 'https://sandbox.itunes.apple.com/verifyReceipt';

/** Sent on every request so a test double behind `overrideUrl` can tell the two apart. */
export const ENVIRONMENT_HEADER = 'x-verify-receipt-environment';

type ReceiptEnvironment = 'Production' | 'Sandbox';

export interface VerifyReceiptClientOptions {
  sharedSecret: string;
  productionUrl?: string;
  sandboxUrl?: string;
  /** `APPLE_VERIFY_RECEIPT_URL`: replaces both URLs. */
  overrideUrl?: string;
  fetch?: typeof fetch;
  /** Per request. Default 10 s. */
  timeoutMs?: number;
  /** Only the latest renewal of each subscription in `latest_receipt_info`. Default true. */
  excludeOldTransactions?: boolean;
}

/** The part of Apple's response this service reads, validated; `body` is the whole answer. */
export interface VerifyReceiptResponse {
  status: 0;
  environment: ReceiptEnvironment;
  latestReceipt?: string;
  latestReceiptInfo: V1LatestReceiptInfo[];
  pendingRenewalInfo: V1PendingRenewalInfo[];
  body: Record<string, unknown>;
}

export interface VerifyReceiptClient {
  /** Production first; the sandbox when production says 21007 (and back on 21008). */
  verify(receiptBase64: string, options?: { startWith?: ReceiptEnvironment }): Promise<VerifyReceiptResponse>;
}

export function createVerifyReceiptClient(options: VerifyReceiptClientOptions): VerifyReceiptClient {
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const urls: Record<ReceiptEnvironment, string> = {
    Production: options.overrideUrl ?? options.productionUrl ?? VERIFY_RECEIPT_PRODUCTION_URL,
    Sandbox: options.overrideUrl ?? options.sandboxUrl ?? VERIFY_RECEIPT_SANDBOX_URL,
  };

  async function post(environment: ReceiptEnvironment, receipt: string): Promise<Record<string, unknown>> {
    const transportError = (code: 'HTTP_ERROR' | 'NETWORK_ERROR' | 'TIMEOUT' | 'INVALID_RESPONSE', message: string, retryable: boolean, cause?: unknown) =>
      new VerifyReceiptError(code, `verifyReceipt (${environment}): ${message}`, { retryable, environment, cause });
    let response: Response;
    try {
      response = await doFetch(urls[environment], {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', [ENVIRONMENT_HEADER]: environment },
        body: JSON.stringify({
          'receipt-data': receipt,
          password: options.sharedSecret,
          'exclude-old-transactions': options.excludeOldTransactions ?? true,
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        throw transportError('TIMEOUT', `no answer within ${timeoutMs} ms`, true, error);
      }
      throw transportError('NETWORK_ERROR', 'request failed', true, error);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
      throw transportError(timedOut ? 'TIMEOUT' : 'NETWORK_ERROR', 'reading the answer failed', true, error);
    }
    if (!response.ok) {
      throw transportError('HTTP_ERROR', `HTTP ${response.status}`, response.status >= 500 || response.status === 429);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw transportError('INVALID_RESPONSE', 'answer is not JSON', true, error);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as { status?: unknown }).status !== 'number') {
      throw transportError('INVALID_RESPONSE', 'answer has no numeric status', true);
    }
    return body as Record<string, unknown>;
  }

  function toResponse(body: Record<string, unknown>, answeredBy: ReceiptEnvironment): VerifyReceiptResponse {
    try {
      const result: VerifyReceiptResponse = {
        status: 0,
        environment: body.environment === 'Sandbox' || body.environment === 'Production' ? body.environment : answeredBy,
        latestReceiptInfo: parseArray(body.latest_receipt_info, 'latest_receipt_info', parseLatestReceiptInfo),
        pendingRenewalInfo: parseArray(body.pending_renewal_info, 'pending_renewal_info', parsePendingRenewalInfo),
        body,
      };
      if (typeof body.latest_receipt === 'string') result.latestReceipt = body.latest_receipt;
      return result;
    } catch (error) {
      if (!(error instanceof V1FormatError)) throw error;
      throw new VerifyReceiptError('INVALID_RESPONSE', `verifyReceipt (${answeredBy}): ${error.message}`, {
        retryable: false,
        environment: answeredBy,
        status: 0,
        cause: error,
      });
    }
  }

  return {
    async verify(receiptBase64, verifyOptions = {}) {
      const first = verifyOptions.startWith ?? 'Production';
      let environment: ReceiptEnvironment = first;
      let body = await post(environment, receiptBase64);
      // One hop only: a receipt cannot belong to both environments.
      const other: ReceiptEnvironment = first === 'Production' ? 'Sandbox' : 'Production';
      const redirect = first === 'Production' ? 21007 : 21008;
      if (body.status === redirect) {
        environment = other;
        body = await post(environment, receiptBase64);
      }
      const status = body.status as number;
      if (status === 0) return toResponse(body, environment);
      const meaning = meaningOfStatus(status);
      // Apple marks some 211xx answers with is-retryable; trust it when it says so.
      const retryable = meaning.retryable || body['is-retryable'] === true;
      throw new VerifyReceiptError(meaning.code, `verifyReceipt (${environment}): ${meaning.message}`, {
        retryable,
        status,
        environment,
      });
    },
  };
}
