import { webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { ReceiptError } from './errors.js';

const SIGNED_DATA_OID = '1.2.840.113549.1.7.2';
const DATA_OID = '1.2.840.113549.1.7.1';

/**
 * Apple's receipts carry three certificates (signer, WWDR intermediate, Apple Inc. Root) of
 * about 1.5 KB each. The caps bound what a hostile receipt can make pkijs parse: each
 * certificate is walked extension by extension in JavaScript, before any signature is known.
 */
export const MAX_RECEIPT_CERTIFICATES = 4;
export const MAX_RECEIPT_CERTIFICATE_BYTES = 8 * 1024;

export interface OpenedSignedData {
  signedData: pkijs.SignedData;
  content: Uint8Array;
}

function malformed(message: string, cause?: unknown): ReceiptError {
  return new ReceiptError('MALFORMED_RECEIPT', message, { cause });
}

/** BER lets an OCTET STRING be split into nested chunks (Xcode's indefinite-length receipts do). */
function octets(block: asn1js.AsnType): Uint8Array {
  if (!(block instanceof asn1js.OctetString)) throw malformed('receipt content is not an OCTET STRING');
  if (!block.idBlock.isConstructed) return new Uint8Array(block.valueBlock.valueHexView);
  const parts = block.valueBlock.value.map(octets);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Counts and measures the certificate bag on the generic BER tree, before pkijs gives
 * each certificate its schema: ContentInfo { type, [0] SignedData { version,
 * digestAlgorithms, encapContentInfo, [0] IMPLICIT certificates?, ... } }.
 */
function checkCertificateBag(contentInfo: asn1js.AsnType): void {
  if (!(contentInfo instanceof asn1js.Sequence)) return;
  const wrapper = contentInfo.valueBlock.value[1];
  const signedData = wrapper instanceof asn1js.Constructed ? wrapper.valueBlock.value[0] : undefined;
  if (!(signedData instanceof asn1js.Sequence)) return;
  const bag = signedData.valueBlock.value[3];
  if (!(bag instanceof asn1js.Constructed) || bag.idBlock.tagClass !== 3 || bag.idBlock.tagNumber !== 0) return;
  const certificates = bag.valueBlock.value;
  if (certificates.length > MAX_RECEIPT_CERTIFICATES) {
    throw malformed(`receipt carries ${certificates.length} certificates, more than ${MAX_RECEIPT_CERTIFICATES}`);
  }
  certificates.forEach((certificate, index) => {
    const bytes = certificate.valueBeforeDecodeView.byteLength;
    if (bytes > MAX_RECEIPT_CERTIFICATE_BYTES) {
      throw malformed(`receipt certificate ${index} is ${bytes} bytes, over the limit of ${MAX_RECEIPT_CERTIFICATE_BYTES} bytes`);
    }
  });
}

export function openSignedData(der: Uint8Array): OpenedSignedData {
  let signedData: pkijs.SignedData;
  try {
    const ber = asn1js.fromBER(der);
    if (ber.offset === -1) throw malformed('receipt is not BER-encoded');
    checkCertificateBag(ber.result);
    const contentInfo = new pkijs.ContentInfo({ schema: ber.result });
    if (contentInfo.contentType !== SIGNED_DATA_OID) throw malformed('receipt is not PKCS#7 SignedData');
    signedData = new pkijs.SignedData({ schema: contentInfo.content });
  } catch (error) {
    if (error instanceof ReceiptError) throw error;
    throw malformed('receipt is not a PKCS#7 structure', error);
  }
  const { eContentType, eContent } = signedData.encapContentInfo;
  if (eContentType !== DATA_OID || eContent === undefined) throw malformed('receipt carries no data content');
  if (signedData.signerInfos.length !== 1) throw malformed('receipt must have exactly one signer');
  return { signedData, content: octets(eContent) };
}

function certificates(signedData: pkijs.SignedData): pkijs.Certificate[] {
  return (signedData.certificates ?? []).filter((c): c is pkijs.Certificate => c instanceof pkijs.Certificate);
}

function signerCertificate(signedData: pkijs.SignedData): pkijs.Certificate | undefined {
  const sid = signedData.signerInfos[0]?.sid;
  if (!(sid instanceof pkijs.IssuerAndSerialNumber)) return undefined;
  return certificates(signedData).find((c) => c.issuer.isEqual(sid.issuer) && c.serialNumber.isEqual(sid.serialNumber));
}

function parseRoot(der: Uint8Array, index: number): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der);
  } catch (error) {
    throw new TypeError(`rootCertificates[${index}] is not a DER certificate`, { cause: error });
  }
}

/**
 * Verifies the CMS signature over the content and that the signer's certificate chains,
 * through the certificates in the receipt, to one of `rootCertificates` at `checkDate`.
 * Certificates embedded in the receipt are never trusted as roots.
 */
export async function verifySignedData(
  signedData: pkijs.SignedData,
  { rootCertificates, checkDate }: { rootCertificates: Uint8Array[]; checkDate: Date },
): Promise<void> {
  if (rootCertificates.length === 0) throw new TypeError('rootCertificates must not be empty');
  const trustedCerts = rootCertificates.map(parseRoot);
  const signer = signerCertificate(signedData);
  if (signer === undefined) throw new ReceiptError('RECEIPT_UNTRUSTED', 'receipt does not include its signer certificate');
  if (checkDate < signer.notBefore.value || checkDate > signer.notAfter.value) {
    throw new ReceiptError(
      'RECEIPT_CERT_EXPIRED',
      `receipt signer certificate is not valid at ${checkDate.toISOString()} (valid ${signer.notBefore.value.toISOString()} to ${signer.notAfter.value.toISOString()})`,
    );
  }
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'] });
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signedData.verify({ signer: 0, checkChain: true, trustedCerts, checkDate, extendedMode: true }, engine);
  } catch (error) {
    if (error instanceof pkijs.SignedDataVerifyError) {
      if (error.signerCertificateVerified === false) {
        throw new ReceiptError('RECEIPT_UNTRUSTED', `receipt signer does not chain to a trusted root: ${error.message}`, { cause: error });
      }
      throw new ReceiptError('RECEIPT_SIGNATURE_INVALID', `receipt signature does not verify: ${error.message}`, { cause: error });
    }
    throw new ReceiptError('RECEIPT_SIGNATURE_INVALID', 'receipt signature could not be checked', { cause: error });
  }
  if (result.signerCertificateVerified !== true) throw new ReceiptError('RECEIPT_UNTRUSTED', 'receipt signer does not chain to a trusted root');
  if (result.signatureVerified !== true) throw new ReceiptError('RECEIPT_SIGNATURE_INVALID', 'receipt signature does not verify');
}
