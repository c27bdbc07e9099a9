// Revocation check of one certificate against its issuer's OCSP responder (RFC 6960),
// encoded and decoded with @peculiar/asn1-ocsp.
import { createHash, verify as cryptoVerify, type KeyObject, X509Certificate } from 'node:crypto';
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  type SingleResponse,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, type Certificate } from '@peculiar/asn1-x509';
import { noopTracing, type Tracing } from '../../tracing/tracing.js';
import { CLOCK_SKEW_MS, type ParsedCertificate } from './chain.js';
import { VerificationError } from './errors.js';

const HASH_BY_OID: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const SHA1_OID = '1.3.14.3.2.26';

const SIGNATURE_HASH_BY_OID: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
};

/** A response without nextUpdate is trusted for this long after its thisUpdate. */
const MAX_AGE_WITHOUT_NEXT_UPDATE_MS = 60 * 60 * 1000;

export interface OcspGood {
  /** Until when the answer may be reused. */
  validUntilMs: number;
}

export interface OcspCheckOptions {
  certificate: ParsedCertificate;
  issuer: ParsedCertificate;
  nowMs: number;
  fetch: typeof fetch;
  timeoutMs: number;
  /** The request and its answer's checks in an `ocsp.request` span. */
  tracing?: Tracing;
}

function digest(algorithm: string, data: Uint8Array): Buffer {
  return createHash(algorithm).update(data).digest();
}

function issuerKeyBits(issuer: ParsedCertificate): Uint8Array {
  return new Uint8Array(issuer.asn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
}

function issuerNameDer(issuer: ParsedCertificate): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(issuer.asn.tbsCertificate.subject));
}

function buildCertId(certificate: ParsedCertificate, issuer: ParsedCertificate, hashOid: string): CertID {
  const hash = HASH_BY_OID[hashOid];
  if (!hash) throw new Error(`unsupported OCSP CertID hash ${hashOid}`);
  return new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: hashOid, parameters: null }),
    issuerNameHash: new OctetString(digest(hash, issuerNameDer(issuer))),
    issuerKeyHash: new OctetString(digest(hash, issuerKeyBits(issuer))),
    serialNumber: certificate.asn.tbsCertificate.serialNumber,
  });
}

export function buildOcspRequest(certificate: ParsedCertificate, issuer: ParsedCertificate): Buffer {
  // SHA-1 CertIDs are what every responder answers (RFC 5019 lightweight profile).
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert: buildCertId(certificate, issuer, SHA1_OID) })] }),
  });
  return Buffer.from(AsnConvert.serialize(request));
}

function sameBytes(a: ArrayBuffer | ArrayBufferView, b: ArrayBuffer | ArrayBufferView): boolean {
  const left = ArrayBuffer.isView(a) ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : Buffer.from(a);
  const right = ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b);
  return left.equals(right);
}

function certIdMatches(candidate: CertID, certificate: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const hashOid = candidate.hashAlgorithm.algorithm;
  if (!HASH_BY_OID[hashOid]) return false;
  const expected = buildCertId(certificate, issuer, hashOid);
  return (
    sameBytes(candidate.issuerNameHash.buffer, expected.issuerNameHash.buffer) &&
    sameBytes(candidate.issuerKeyHash.buffer, expected.issuerKeyHash.buffer) &&
    sameBytes(candidate.serialNumber, expected.serialNumber)
  );
}

function invalid(message: string, cause?: unknown): VerificationError {
  return new VerificationError('OCSP_INVALID', message, cause === undefined ? undefined : { cause });
}

function responderMatches(basic: BasicOCSPResponse, signerAsn: Certificate): boolean {
  const { byName, byKey } = basic.tbsResponseData.responderID;
  if (byName) return sameBytes(AsnConvert.serialize(byName), AsnConvert.serialize(signerAsn.tbsCertificate.subject));
  if (byKey) {
    const keyHash = digest('sha1', new Uint8Array(signerAsn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey));
    return sameBytes(byKey.buffer, keyHash);
  }
  return false;
}

/**
 * The key that must have signed the response: the issuer itself, or a delegated
 * responder certificate the issuer signed for OCSP signing (RFC 6960 §4.2.2.2).
 */
function findSignerKey(basic: BasicOCSPResponse, issuer: ParsedCertificate, nowMs: number): KeyObject {
  if (responderMatches(basic, issuer.asn)) return issuer.x509.publicKey;
  for (const asn of basic.certs ?? []) {
    const der = Buffer.from(AsnConvert.serialize(asn));
    const delegate = new X509Certificate(der);
    if (!responderMatches(basic, asn)) continue;
    if (delegate.issuer !== issuer.x509.subject || !delegate.verify(issuer.x509.publicKey)) {
      throw invalid(`the OCSP responder certificate for the ${issuer.role}'s children is not issued by it`);
    }
    if (!(delegate.keyUsage ?? []).includes(id_kp_OCSPSigning)) {
      throw invalid('the delegated OCSP responder certificate lacks the OCSP-signing extended key usage');
    }
    const validity = asn.tbsCertificate.validity;
    const notBefore = validity.notBefore.getTime().getTime();
    const notAfter = validity.notAfter.getTime().getTime();
    if (nowMs < notBefore - CLOCK_SKEW_MS || nowMs > notAfter + CLOCK_SKEW_MS) {
      throw invalid('the delegated OCSP responder certificate is outside its validity period');
    }
    return delegate.publicKey;
  }
  throw invalid('the OCSP response is signed by neither the issuer nor a responder certificate it carries');
}

function checkSignature(basic: BasicOCSPResponse, key: KeyObject): void {
  const hash = SIGNATURE_HASH_BY_OID[basic.signatureAlgorithm.algorithm];
  if (!hash) throw invalid(`unsupported OCSP signature algorithm ${basic.signatureAlgorithm.algorithm}`);
  const signed = basic.tbsResponseDataRaw ?? AsnConvert.serialize(basic.tbsResponseData);
  const ok = cryptoVerify(hash, new Uint8Array(signed), key, new Uint8Array(basic.signature));
  if (!ok) throw invalid('the OCSP response signature does not verify');
}

async function post(url: string, body: Buffer, options: OcspCheckOptions, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (cause) {
    throw new VerificationError('OCSP_UNAVAILABLE', `the OCSP responder for the ${what} at ${url} cannot be reached`, {
      cause,
    });
  }
  if (!response.ok) {
    throw new VerificationError('OCSP_UNAVAILABLE', `the OCSP responder for the ${what} at ${url} answered HTTP ${response.status}`);
  }
  try {
    return new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new VerificationError('OCSP_UNAVAILABLE', `the OCSP answer for the ${what} was cut off`, { cause });
  }
}

function parseBasicResponse(bytes: Uint8Array, what: string): BasicOCSPResponse {
  let outer: OCSPResponse;
  try {
    outer = AsnConvert.parse(bytes, OCSPResponse);
  } catch (cause) {
    throw invalid(`the OCSP answer for the ${what} is not a DER OCSPResponse`, cause);
  }
  if (outer.responseStatus === OCSPResponseStatus.tryLater || outer.responseStatus === OCSPResponseStatus.internalError) {
    throw new VerificationError('OCSP_UNAVAILABLE', `the OCSP responder for the ${what} answered ${OCSPResponseStatus[outer.responseStatus]}`);
  }
  if (outer.responseStatus !== OCSPResponseStatus.successful || !outer.responseBytes) {
    throw invalid(`the OCSP responder for the ${what} refused the request (status ${outer.responseStatus})`);
  }
  if (outer.responseBytes.responseType !== id_pkix_ocsp_basic) {
    throw invalid(`the OCSP answer for the ${what} is not a basic response`);
  }
  try {
    return AsnConvert.parse(outer.responseBytes.response.buffer, BasicOCSPResponse);
  } catch (cause) {
    throw invalid(`the OCSP answer for the ${what} holds a malformed BasicOCSPResponse`, cause);
  }
}

function checkFreshness(single: SingleResponse, nowMs: number, what: string): number {
  const thisUpdate = single.thisUpdate.getTime();
  if (!Number.isFinite(thisUpdate) || thisUpdate > nowMs + CLOCK_SKEW_MS) {
    throw invalid(`the OCSP answer for the ${what} has thisUpdate in the future`);
  }
  if (single.nextUpdate) {
    const nextUpdate = single.nextUpdate.getTime();
    if (!Number.isFinite(nextUpdate) || nextUpdate < nowMs - CLOCK_SKEW_MS) {
      throw invalid(`the OCSP answer for the ${what} is stale (nextUpdate ${single.nextUpdate.toISOString()})`);
    }
    return nextUpdate;
  }
  const validUntil = thisUpdate + MAX_AGE_WITHOUT_NEXT_UPDATE_MS;
  if (validUntil < nowMs) throw invalid(`the OCSP answer for the ${what} is stale (no nextUpdate)`);
  return validUntil;
}

/** Asks the issuer's responder about `certificate`; resolves only for status good. */
export function checkOcsp(options: OcspCheckOptions): Promise<OcspGood> {
  const tracing = options.tracing ?? noopTracing;
  if (!tracing.enabled) return checkOcspNow(options);
  const attributes = {
    'http.request.method': 'POST',
    'appstore.certificate': options.certificate.role,
    ...(options.certificate.ocspUrl ? { 'url.full': options.certificate.ocspUrl } : {}),
  };
  return tracing.span('ocsp.request', { kind: 'client', attributes }, () => checkOcspNow(options));
}

async function checkOcspNow(options: OcspCheckOptions): Promise<OcspGood> {
  const { certificate, issuer, nowMs } = options;
  const what = `${certificate.role} certificate`;
  if (!certificate.ocspUrl) {
    throw invalid(`the ${what} names no OCSP responder in its Authority Information Access`);
  }
  const bytes = await post(certificate.ocspUrl, buildOcspRequest(certificate, issuer), options, what);
  const basic = parseBasicResponse(bytes, what);
  checkSignature(basic, findSignerKey(basic, issuer, nowMs));
  const single = basic.tbsResponseData.responses.find((r) => certIdMatches(r.certID, certificate, issuer));
  if (!single) throw invalid(`the OCSP answer for the ${what} does not mention its CertID`);
  const validUntilMs = checkFreshness(single, nowMs, what);
  const status = single.certStatus;
  if (status.revoked) {
    throw new VerificationError('CERTIFICATE_REVOKED', `the ${what} was revoked at ${status.revoked.revocationTime.toISOString()}`);
  }
  if (status.good === undefined) throw invalid(`the OCSP responder does not know the ${what} (status unknown)`);
  return { validUntilMs };
}
