import { CodedError } from '../../errors.js';

export type ReceiptErrorCode = 'MALFORMED_RECEIPT' | 'RECEIPT_SIGNATURE_INVALID' | 'RECEIPT_UNTRUSTED' | 'RECEIPT_CERT_EXPIRED' | 'ROOT_CERTIFICATE_MISMATCH';

export class ReceiptError extends CodedError {
  override readonly name = 'ReceiptError';
  declare readonly code: ReceiptErrorCode;

  constructor(code: ReceiptErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, { cause: options?.cause });
  }
}
