export type ReceiptErrorCode =
  | 'MALFORMED_RECEIPT'
  | 'RECEIPT_SIGNATURE_INVALID'
  | 'RECEIPT_UNTRUSTED'
  | 'RECEIPT_CERT_EXPIRED'
  | 'ROOT_CERTIFICATE_MISMATCH';

export class ReceiptError extends Error {
  override readonly name = 'ReceiptError';
  readonly code: ReceiptErrorCode;

  constructor(code: ReceiptErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
