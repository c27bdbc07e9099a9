import type { VerifyReceiptErrorCode } from './status-codes.js';

export class VerifyReceiptError extends Error {
  override readonly name = 'VerifyReceiptError';
  readonly code: VerifyReceiptErrorCode;
  /** True when trying again later may succeed (Apple's temporary failures, transport errors). */
  readonly retryable: boolean;
  /** Apple's `status`, when the failure is one. */
  readonly status?: number;
  /** The endpoint that answered last. */
  readonly environment?: 'Production' | 'Sandbox';

  constructor(
    code: VerifyReceiptErrorCode,
    message: string,
    details: { retryable: boolean; status?: number; environment?: 'Production' | 'Sandbox'; cause?: unknown },
  ) {
    super(message, { cause: details.cause });
    this.code = code;
    this.retryable = details.retryable;
    if (details.status !== undefined) this.status = details.status;
    if (details.environment !== undefined) this.environment = details.environment;
  }
}
