import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { assetsFolder } from '../../paths.js';
import { ReceiptError } from './errors.js';

/** SHA-256 of the DER of Apple Inc. Root Certificate (RSA), which signs app receipts. */
export const APPLE_INC_ROOT_SHA256 = 'b0b1730ecbc7ff4505142c49f1295e6eda6bcaed7e2c68c5be91b5a11001f024';

export const APPLE_INC_ROOT_PATH = path.join(assetsFolder, 'apple', 'AppleIncRootCertificate.cer');

/**
 * Reads the bundled legacy root and refuses it unless its bytes are exactly Apple's,
 * so a replaced file in a deployment cannot quietly widen what receipts are trusted.
 */
export async function loadAppleIncRootCertificate(filePath: string = APPLE_INC_ROOT_PATH): Promise<Uint8Array> {
  const der = new Uint8Array(await readFile(filePath));
  const digest = createHash('sha256').update(der).digest('hex');
  if (digest !== APPLE_INC_ROOT_SHA256) {
    throw new ReceiptError('ROOT_CERTIFICATE_MISMATCH', `${filePath} is not Apple Inc. Root Certificate (sha256 ${digest})`);
  }
  return der;
}
