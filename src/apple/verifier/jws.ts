import type { UnverifiedPayload } from '../types.js';
import { VerificationError } from './errors.js';
import { isObject, type JsonObject } from './payload.js';

/** A compact JWS split into what verification needs, nothing decoded beyond the header. */
export interface CompactJws {
  x5c: readonly string[];
  chainKey: string;
  /** `header.payload`, the bytes the signature covers. */
  signingInput: string;
  payloadSegment: string;
  signature: Buffer;
}

const ES256_SIGNATURE_BYTES = 64;

/**
 * Apple's signing certificates are 0.6–1.5 KB of DER; 8 KB leaves more than five times
 * that for a future chain while bounding what one x5c entry can make the service parse
 * (the certificate of the attack was 108 KB of extensions).
 */
export const MAX_CERTIFICATE_BYTES = 8 * 1024;
/** Base64 characters of the largest accepted x5c entry. */
const MAX_CERTIFICATE_CHARS = Math.ceil(MAX_CERTIFICATE_BYTES / 3) * 4;
/** Three maximal certificates, their JSON and a few short fields, base64url-encoded. */
export const MAX_HEADER_CHARS = Math.ceil(((3 * (MAX_CERTIFICATE_CHARS + 3) + 256) * 4) / 3);

function malformed(message: string): VerificationError {
  return new VerificationError('MALFORMED_JWS', message);
}

function decodeJson(segment: string, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new VerificationError('MALFORMED_JWS', `the JWS ${what} is not base64url-encoded JSON`, { cause });
  }
}

export interface JwsHeader {
  x5c: readonly string[];
  /** Leaf and intermediate, the key of the chain cache; built once per header. */
  chainKey: string;
}

/** Decodes and checks the protected header; the result depends on the segment alone. */
export function parseHeader(segment: string): JwsHeader {
  const header = decodeJson(segment, 'header');
  if (!isObject(header)) throw malformed('the JWS header is not a JSON object');
  if (header.alg !== 'ES256') {
    throw new VerificationError('UNSUPPORTED_ALGORITHM', `the JWS alg must be ES256, got ${JSON.stringify(header.alg)}`);
  }
  // Nothing here understands critical header extensions, so none may be required.
  if (header.crit !== undefined) throw malformed('the JWS header carries crit, which is not supported');
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || !x5c.every((entry) => typeof entry === 'string')) {
    throw malformed('the JWS header has no x5c array of base64 certificates');
  }
  if (x5c.length !== 3) {
    throw new VerificationError('INVALID_CHAIN_LENGTH', `x5c must hold exactly 3 certificates, got ${x5c.length}`);
  }
  // Measured on the base64 text, before anything is decoded or parsed.
  x5c.forEach((entry: string, index) => {
    if (entry.length > MAX_CERTIFICATE_CHARS) {
      throw malformed(`x5c[${index}] is ${Math.floor((entry.length * 3) / 4)} bytes, over the limit of ${MAX_CERTIFICATE_BYTES} bytes for one certificate`);
    }
  });
  return { x5c: x5c as string[], chainKey: `${x5c[0]}.${x5c[1]}` };
}

/**
 * Splits a compact JWS. `headerOf` parses the header segment; the verifier passes a
 * memoised `parseHeader`, since every JWS from one signing certificate repeats the
 * same header of several kilobytes.
 */
export function splitCompactJws(jws: unknown, headerOf: (segment: string) => JwsHeader = parseHeader): CompactJws {
  if (typeof jws !== 'string') throw malformed('the JWS is not a string');
  const firstDot = jws.indexOf('.');
  const lastDot = jws.lastIndexOf('.');
  if (firstDot <= 0 || lastDot === firstDot || jws.indexOf('.', firstDot + 1) !== lastDot) {
    throw malformed('the JWS does not have the three parts of the compact serialization');
  }
  if (firstDot > MAX_HEADER_CHARS) {
    throw malformed(`the JWS header is ${firstDot} characters, over the limit of ${MAX_HEADER_CHARS}`);
  }
  const { x5c, chainKey } = headerOf(jws.slice(0, firstDot));
  const signature = Buffer.from(jws.slice(lastDot + 1), 'base64url');
  if (signature.length !== ES256_SIGNATURE_BYTES) {
    throw new VerificationError('INVALID_SIGNATURE', `an ES256 signature is ${ES256_SIGNATURE_BYTES} bytes, got ${signature.length}`);
  }
  return {
    x5c,
    chainKey,
    signingInput: jws.slice(0, lastDot),
    payloadSegment: jws.slice(firstDot + 1, lastDot),
    signature,
  };
}

export function decodePayload(segment: string): JsonObject {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new VerificationError('MALFORMED_PAYLOAD', 'the JWS payload is not base64url-encoded JSON', { cause });
  }
  if (!isObject(payload)) throw new VerificationError('MALFORMED_PAYLOAD', 'the JWS payload is not a JSON object');
  return payload;
}

/**
 * The payload of what may be a compact JWS, parsed without any check (see
 * `UnverifiedPayload`). Three parts, as `split('.')` counts them, empty ones included.
 */
export function readUnverifiedPayload(jws: string): UnverifiedPayload {
  const firstDot = jws.indexOf('.');
  const lastDot = jws.lastIndexOf('.');
  if (firstDot === -1 || lastDot === firstDot || jws.indexOf('.', firstDot + 1) !== lastDot) return { jws, payload: undefined };
  try {
    return { jws, payload: JSON.parse(Buffer.from(jws.slice(firstDot + 1, lastDot), 'base64url').toString('utf8')) };
  } catch {
    return { jws, payload: undefined };
  }
}
