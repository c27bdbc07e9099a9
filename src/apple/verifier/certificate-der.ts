// The three parts of a DER certificate, found by reading three tag-length headers. This is
// what lets the issuer's signature be checked before the certificate is parsed: neither
// OpenSSL's X509Certificate nor an ASN.1 library checks a signature without decoding every
// extension first, and that decoding is what a hostile certificate is made to cost.
import { VerificationError } from './errors.js';

export interface CertificateParts {
  /** The DER of tbsCertificate, the bytes the issuer signed. */
  tbs: Buffer;
  /** node:crypto's digest name for the signature algorithm. */
  hash: 'sha256' | 'sha384' | 'sha512';
  /** The DER ECDSA signature (the BIT STRING's content). */
  signature: Buffer;
}

// ecdsa-with-SHA256/384/512 (RFC 5758), DER-encoded OIDs: the only signatures Apple's App
// Store chains use.
const ECDSA_HASHES: Record<string, CertificateParts['hash']> = {
  '2a8648ce3d040302': 'sha256',
  '2a8648ce3d040303': 'sha384',
  '2a8648ce3d040304': 'sha512',
};

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(der: Buffer, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 3 || contentStart + bytes > limit) return undefined;
    length = 0;
    for (let i = 0; i < bytes; i += 1) length = length * 256 + (der[contentStart + i] as number);
    contentStart += bytes;
  }
  const end = contentStart + length;
  return end > limit ? undefined : { tag, start: offset, contentStart, end };
}

export function certificateParts(der: Buffer, role: string): CertificateParts {
  const malformed = (what: string) => new VerificationError('INVALID_CHAIN', `the ${role} certificate is not valid DER X.509 (${what})`);
  const certificate = readTlv(der, 0, der.length);
  if (certificate?.tag !== 0x30 || certificate.end !== der.length) throw malformed('outer SEQUENCE');
  const tbs = readTlv(der, certificate.contentStart, certificate.end);
  if (tbs?.tag !== 0x30) throw malformed('tbsCertificate');
  const algorithm = readTlv(der, tbs.end, certificate.end);
  if (algorithm?.tag !== 0x30) throw malformed('signatureAlgorithm');
  const oid = readTlv(der, algorithm.contentStart, algorithm.end);
  if (oid?.tag !== 0x06) throw malformed('signatureAlgorithm OID');
  const signature = readTlv(der, algorithm.end, certificate.end);
  if (signature?.tag !== 0x03 || signature.end !== certificate.end || der[signature.contentStart] !== 0) throw malformed('signatureValue');
  const hash = ECDSA_HASHES[der.subarray(oid.contentStart, oid.end).toString('hex')];
  if (hash === undefined) {
    throw new VerificationError('INVALID_CHAIN', `the ${role} certificate is not signed with ECDSA and SHA-2`);
  }
  return {
    tbs: der.subarray(tbs.start, tbs.end),
    hash,
    signature: der.subarray(signature.contentStart + 1, signature.end),
  };
}
