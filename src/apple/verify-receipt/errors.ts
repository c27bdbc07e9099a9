import { CodedError } from '../../errors.js';
import type { VerifyReceiptErrorCode } from './status-codes.js';

/** `retryable` is true when trying again later may succeed (Apple's temporary failures, transport errors). */
export class VerifyReceiptError extends CodedError {
  override readonly name = 'VerifyReceiptError';
  declare readonly code: VerifyReceiptErrorCode;
  /** Apple's `status`, when the failure is one. */
  readonly status?: number;
  /** The endpoint that answered last. */
  readonly environment?: 'Production' | 'Sandbox';

  constructor(
    code: VerifyReceiptErrorCode,
    message: string,
    details: { retryable: boolean; status?: number; environment?: 'Production' | 'Sandbox'; cause?: unknown },
  ) {
    super(code, message, { cause: details.cause, retryable: details.retryable });
    if (details.status !== undefined) this.status = details.status;
    if (details.environment !== undefined) this.environment = details.environment;
  }
}
