// Structural checks of an x5c chain (everything except time and revocation), done
// once per (leaf, intermediate) pair and then cached.
import { verify as cryptoVerify, type KeyObject, X509Certificate } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  BasicConstraints,
  Certificate,
  id_ad_ocsp,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_pe_authorityInfoAccess,
  KeyUsage,
  KeyUsageFlags,
} from '@peculiar/asn1-x509';
import { certificateParts } from './certificate-der.js';
import { VerificationError } from './errors.js';

export const APPLE_INTERMEDIATE_MARKER_OID = '1.2.840.113635.100.6.2.1';
export const APPLE_LEAF_MARKER_OID = '1.2.840.113635.100.6.11.1';

export type CertificateRole = 'leaf' | 'intermediate' | 'root';

/** One certificate in both parsed forms: OpenSSL for crypto, ASN.1 for extensions. */
export interface ParsedCertificate {
  role: CertificateRole;
  der: Buffer;
  x509: X509Certificate;
  asn: Certificate;
  notBeforeMs: number;
  notAfterMs: number;
  ocspUrl: string | undefined;
}

export interface TrustedRoot {
  der: Buffer;
  base64: string;
  certificate: ParsedCertificate;
}

export interface VerifiedChain {
  rootBase64: string;
  leafKey: KeyObject;
  leaf: ParsedCertificate;
  intermediate: ParsedCertificate;
  root: ParsedCertificate;
  /** Latest notBefore and earliest notAfter of the three certificates. */
  notBeforeMs: number;
  notAfterMs: number;
}

function chainError(message: string): VerificationError {
  return new VerificationError('INVALID_CHAIN', message);
}

function findOcspUrl(asn: Certificate): string | undefined {
  const extension = asn.tbsCertificate.extensions?.find((e) => e.extnID === id_pe_authorityInfoAccess);
  if (!extension) return undefined;
  const access = AsnConvert.parse(extension.extnValue, AuthorityInfoAccessSyntax);
  return access.find((item) => item.accessMethod === id_ad_ocsp)?.accessLocation.uniformResourceIdentifier;
}

/** OpenSSL's parse alone: enough to check names and signatures, in native code. */
function openCertificate(der: Buffer, role: CertificateRole): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (cause) {
    throw new VerificationError('INVALID_CHAIN', `the ${role} certificate is not valid DER X.509`, { cause });
  }
}

/**
 * The ASN.1 parse, for extensions and dates. It walks every extension in JavaScript, so
 * it runs only on certificates whose issuer's signature has already been checked: an
 * attacker cannot make the service parse a certificate Apple did not sign.
 */
function describeCertificate(der: Buffer, x509: X509Certificate, role: CertificateRole): ParsedCertificate {
  let asn: Certificate;
  try {
    asn = AsnConvert.parse(der, Certificate);
  } catch (cause) {
    throw new VerificationError('INVALID_CHAIN', `the ${role} certificate is not valid DER X.509`, { cause });
  }
  const validity = asn.tbsCertificate.validity;
  let ocspUrl: string | undefined;
  try {
    ocspUrl = findOcspUrl(asn);
  } catch (cause) {
    throw new VerificationError('INVALID_CHAIN', `the ${role} certificate has a malformed AIA extension`, {
      cause,
    });
  }
  return {
    role,
    der,
    x509,
    asn,
    notBeforeMs: validity.notBefore.getTime().getTime(),
    notAfterMs: validity.notAfter.getTime().getTime(),
    ocspUrl,
  };
}

export function parseCertificate(der: Buffer, role: CertificateRole): ParsedCertificate {
  return describeCertificate(der, openCertificate(der, role), role);
}

/**
 * Checks the issuer's signature on the raw DER first (three tag-length headers and one
 * ECDSA check), then parses: a forged certificate costs the same whatever it is stuffed
 * with, and is never decoded.
 */
function parseIssuedBy(base64: string, role: CertificateRole, issuer: ParsedCertificate): ParsedCertificate {
  const der = decodeCertificate(base64, role);
  const { tbs, hash, signature } = certificateParts(der, role);
  if (!cryptoVerify(hash, tbs, { key: issuer.x509.publicKey, dsaEncoding: 'der' }, signature)) {
    throw chainError(`the ${role} certificate is not signed by the ${issuer.role} certificate`);
  }
  const x509 = openCertificate(der, role);
  if (x509.issuer !== issuer.x509.subject) {
    throw chainError(`the ${role} certificate's issuer does not name the ${issuer.role} certificate`);
  }
  // OpenSSL's own check of the same signature, over the certificate it decoded.
  if (!x509.verify(issuer.x509.publicKey)) {
    throw chainError(`the ${role} certificate is not signed by the ${issuer.role} certificate`);
  }
  return describeCertificate(der, x509, role);
}

function hasExtension(cert: ParsedCertificate, oid: string): boolean {
  return cert.asn.tbsCertificate.extensions?.some((e) => e.extnID === oid) ?? false;
}

function parseExtension<T>(cert: ParsedCertificate, name: string, parse: () => T): T {
  try {
    return parse();
  } catch (cause) {
    throw new VerificationError('INVALID_CHAIN', `the ${cert.role} certificate has a malformed ${name} extension`, { cause });
  }
}

// Read from the extension itself: OpenSSL's notion of "CA" also weighs key usage,
// which is checked separately here so that each failure names its cause.
function isCa(cert: ParsedCertificate): boolean {
  const extension = cert.asn.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_basicConstraints);
  if (!extension) return false;
  return parseExtension(cert, 'basicConstraints', () => AsnConvert.parse(extension.extnValue, BasicConstraints).cA);
}

function keyUsageAllows(cert: ParsedCertificate, flag: KeyUsageFlags): boolean {
  const extension = cert.asn.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_keyUsage);
  // No keyUsage extension means no restriction (RFC 5280 §4.2.1.3).
  if (!extension) return true;
  const usage = parseExtension(cert, 'keyUsage', () => AsnConvert.parse(extension.extnValue, KeyUsage));
  return (usage.toNumber() & flag) !== 0;
}

function decodeCertificate(base64: string, role: CertificateRole): Buffer {
  const der = Buffer.from(base64, 'base64');
  if (der.length === 0) throw new VerificationError('MALFORMED_JWS', `x5c entry for the ${role} is empty`);
  return der;
}

export function createTrustedRoots(roots: readonly Uint8Array[]): TrustedRoot[] {
  return roots.map((bytes) => {
    const der = Buffer.from(bytes);
    return { der, base64: der.toString('base64'), certificate: parseCertificate(der, 'root') };
  });
}

/**
 * Checks that x5c is [leaf, intermediate, root] with the root byte-identical to a
 * trusted one (compared before anything is parsed), each certificate signed by the next, the CA flags and Apple's markers in
 * place. Validity dates are left to the caller, which knows the effective time.
 */
export function verifyChainStructure(x5c: readonly string[], trustedRoots: readonly TrustedRoot[]): VerifiedChain {
  const [leafB64, intermediateB64, rootB64] = x5c;
  if (x5c.length !== 3 || leafB64 === undefined || intermediateB64 === undefined || rootB64 === undefined) {
    throw new VerificationError('INVALID_CHAIN_LENGTH', `x5c must hold exactly 3 certificates, got ${x5c.length}`);
  }
  const rootDer = decodeCertificate(rootB64, 'root');
  const trusted = trustedRoots.find((candidate) => candidate.der.equals(rootDer));
  if (!trusted) {
    throw new VerificationError('UNTRUSTED_ROOT', 'x5c[2] is not one of the trusted root certificates');
  }
  const root = trusted.certificate;
  // Each certificate is parsed only after its issuer's signature on it is checked, so a
  // forged one costs one ECDSA check, whatever it is stuffed with.
  const intermediate = parseIssuedBy(intermediateB64, 'intermediate', root);
  const leaf = parseIssuedBy(leafB64, 'leaf', intermediate);
  if (!isCa(intermediate)) throw chainError('the intermediate certificate is not a CA');
  if (!keyUsageAllows(intermediate, KeyUsageFlags.keyCertSign)) {
    throw chainError('the intermediate certificate may not sign certificates (keyUsage lacks keyCertSign)');
  }
  if (isCa(leaf)) throw chainError('the leaf certificate is a CA');
  if (!keyUsageAllows(leaf, KeyUsageFlags.digitalSignature)) {
    throw chainError('the leaf certificate may not sign data (keyUsage lacks digitalSignature)');
  }
  if (!hasExtension(intermediate, APPLE_INTERMEDIATE_MARKER_OID)) {
    throw new VerificationError('MISSING_APPLE_MARKER', `the intermediate certificate lacks Apple's extension ${APPLE_INTERMEDIATE_MARKER_OID}`);
  }
  if (!hasExtension(leaf, APPLE_LEAF_MARKER_OID)) {
    throw new VerificationError('MISSING_APPLE_MARKER', `the leaf certificate lacks Apple's extension ${APPLE_LEAF_MARKER_OID}`);
  }
  const leafKey = leaf.x509.publicKey;
  if (leafKey.asymmetricKeyType !== 'ec' || leafKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new VerificationError('UNSUPPORTED_ALGORITHM', 'the leaf key is not an EC P-256 key as ES256 requires');
  }
  return {
    rootBase64: trusted.base64,
    leafKey,
    leaf,
    intermediate,
    root,
    notBeforeMs: Math.max(leaf.notBeforeMs, intermediate.notBeforeMs, root.notBeforeMs),
    notAfterMs: Math.min(leaf.notAfterMs, intermediate.notAfterMs, root.notAfterMs),
  };
}

export const CLOCK_SKEW_MS = 60_000;

/** Throws CERTIFICATE_EXPIRED naming the first certificate not valid at `atMs`. */
export function checkValidityAt(chain: VerifiedChain, atMs: number, what: string): void {
  if (atMs >= chain.notBeforeMs - CLOCK_SKEW_MS && atMs <= chain.notAfterMs + CLOCK_SKEW_MS) return;
  const at = new Date(atMs).toISOString();
  for (const cert of [chain.leaf, chain.intermediate, chain.root]) {
    if (atMs < cert.notBeforeMs - CLOCK_SKEW_MS) {
      throw new VerificationError(
        'CERTIFICATE_EXPIRED',
        `the ${cert.role} certificate is not yet valid at ${what} ${at} (valid from ${new Date(cert.notBeforeMs).toISOString()})`,
      );
    }
    if (atMs > cert.notAfterMs + CLOCK_SKEW_MS) {
      throw new VerificationError(
        'CERTIFICATE_EXPIRED',
        `the ${cert.role} certificate has expired at ${what} ${at} (valid until ${new Date(cert.notAfterMs).toISOString()})`,
      );
    }
  }
}
