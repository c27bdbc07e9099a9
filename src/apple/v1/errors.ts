import { CodedError } from '../../errors.js';

export type V1FormatErrorCode = 'MALFORMED_V1_BODY' | 'UNKNOWN_V1_NOTIFICATION_TYPE' | 'UNKNOWN_V1_ENVIRONMENT';

export class V1FormatError extends CodedError {
  override readonly name = 'V1FormatError';
  declare readonly code: V1FormatErrorCode;
  /** The offending field, e.g. `unified_receipt.latest_receipt_info[2].purchase_date_ms`. */
  readonly field: string;

  constructor(code: V1FormatErrorCode, field: string, message: string) {
    super(code, `${field}: ${message}`);
    this.field = field;
  }
}
