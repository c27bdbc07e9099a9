export {
  createVerifyReceiptClient,
  ENVIRONMENT_HEADER,
  VERIFY_RECEIPT_PRODUCTION_URL,
  VERIFY_RECEIPT_SANDBOX_URL,
  type VerifyReceiptClient,
  type VerifyReceiptClientOptions,
  type VerifyReceiptResponse,
} from './client.js';
export { VerifyReceiptError } from './errors.js';
export { meaningOfStatus, type StatusMeaning, type VerifyReceiptErrorCode } from './status-codes.js';
