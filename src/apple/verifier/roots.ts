import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetsFolder } from '../../paths.js';

/** Apple Root CA - G3, the anchor of every App Store JWS, bundled with the service. */
export const DEFAULT_ROOT_CERTIFICATE_PATH = join(assetsFolder, 'apple', 'AppleRootCA-G3.cer');

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Reads DER or PEM certificate files (a PEM file may hold several); fails loudly on anything else. */
export function loadRootCertificates(paths: readonly string[]): Uint8Array[] {
  const roots: Uint8Array[] = [];
  for (const path of paths) {
    const bytes = readFileSync(path);
    const text = bytes.toString('latin1');
    const ders = text.includes('-----BEGIN CERTIFICATE-----')
      ? [...text.matchAll(PEM_BLOCK)].map((match) => Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'))
      : [bytes];
    for (const der of ders) {
      try {
        new X509Certificate(der);
      } catch (cause) {
        throw new Error(`${path} does not hold a DER or PEM X.509 certificate`, { cause });
      }
      roots.push(new Uint8Array(der));
    }
  }
  return roots;
}
