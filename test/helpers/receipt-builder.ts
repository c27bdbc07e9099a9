// Builds PKCS#7 app receipts like Apple's, signed by a throw-away RSA PKI generated at
// test time, so receipt parsing can be tested without Apple's keys.
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

type PkijsCrypto = ConstructorParameters<typeof pkijs.CryptoEngine>[0]['crypto'];
type X509Crypto = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1];
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

export interface TestCertificate {
  der: Uint8Array;
  keys: CryptoKeyPair;
  cert: x509.X509Certificate;
}

export interface ReceiptPki {
  root: TestCertificate;
  intermediate: TestCertificate;
  signer: TestCertificate;
}

export interface ReceiptPkiOptions {
  /** Distinguishes roots, e.g. for an "attacker" PKI. */
  name?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** The signer's validity, when it should differ from the CAs'. */
  signerNotAfter?: Date;
}

let serial = 1;
function nextSerial(): string {
  serial += 1;
  return serial.toString(16).padStart(4, '0');
}

async function issue(
  subject: string,
  issuer: TestCertificate | undefined,
  options: { ca: boolean; notBefore: Date; notAfter: Date },
): Promise<TestCertificate> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions = [
    new x509.BasicConstraintsExtension(options.ca, undefined, true),
    new x509.KeyUsagesExtension(options.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never, false, webcrypto as X509Crypto),
  ];
  const common = {
    serialNumber: nextSerial(),
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    signingAlgorithm: RSA,
    extensions,
  };
  const cert =
    issuer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys: keys as never }, webcrypto as X509Crypto)
      : await x509.X509CertificateGenerator.create(
          {
            ...common,
            subject,
            issuer: issuer.cert.subject,
            publicKey: keys.publicKey as never,
            signingKey: issuer.keys.privateKey as never,
          },
          webcrypto as X509Crypto,
        );
  return { der: new Uint8Array(cert.rawData), keys, cert };
}

export async function createReceiptPki(options: ReceiptPkiOptions = {}): Promise<ReceiptPki> {
  const name = options.name ?? 'Test';
  const notBefore = options.notBefore ?? new Date('2015-01-01T00:00:00Z');
  const notAfter = options.notAfter ?? new Date('2045-01-01T00:00:00Z');
  const root = await issue(`CN=${name} Root CA, O=${name}`, undefined, { ca: true, notBefore, notAfter });
  const intermediate = await issue(`CN=${name} Intermediate CA, O=${name}`, root, { ca: true, notBefore, notAfter });
  const signer = await issue(`CN=${name} Receipt Signing, O=${name}`, intermediate, {
    ca: false,
    notBefore,
    notAfter: options.signerNotAfter ?? notAfter,
  });
  return { root, intermediate, signer };
}

export interface TestInAppPurchase {
  transactionId: string;
  originalTransactionId?: string;
  productId: string;
  quantity?: number;
  purchaseDate: Date;
  originalPurchaseDate?: Date;
  expiresDate?: Date;
  cancellationDate?: Date;
  webOrderLineItemId?: bigint;
}

export interface TestReceiptContent {
  bundleId: string;
  applicationVersion?: string;
  receiptCreationDate: Date;
  receiptType?: string;
  inApp?: TestInAppPurchase[];
}

export interface BuildReceiptOptions {
  pki: ReceiptPki;
  encoding?: 'definite' | 'indefinite';
  /** Put the root in the receipt's certificate bag too (Apple's real receipts do). */
  includeRoot?: boolean;
  /** Replace the signed content after signing, to produce a receipt whose signature fails. */
  swapContentAfterSigning?: TestReceiptContent;
  /** More DER certificates for the bag, as a hostile sender would add. */
  extraCertificates?: Uint8Array[];
}

const utf8 = (s: string) => new asn1js.Utf8String({ value: s });
const ia5 = (s: string) => new asn1js.IA5String({ value: s });
const int = (n: number | bigint) => asn1js.Integer.fromBigInt(BigInt(n));
const rfc3339 = (d: Date | undefined) => (d === undefined ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z'));

function attribute(type: number, value: asn1js.BaseBlock): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [int(type), int(1), new asn1js.OctetString({ valueHex: value.toBER() })],
  });
}

function inAppSet(p: TestInAppPurchase): asn1js.Set {
  return new asn1js.Set({
    value: [
      attribute(1701, int(p.quantity ?? 1)),
      attribute(1702, utf8(p.productId)),
      attribute(1703, utf8(p.transactionId)),
      attribute(1705, utf8(p.originalTransactionId ?? p.transactionId)),
      attribute(1704, ia5(rfc3339(p.purchaseDate))),
      attribute(1706, ia5(rfc3339(p.originalPurchaseDate ?? p.purchaseDate))),
      attribute(1708, ia5(rfc3339(p.expiresDate))),
      attribute(1712, ia5(rfc3339(p.cancellationDate))),
      attribute(1711, int(p.webOrderLineItemId ?? 0n)),
    ],
  });
}

export function encodeReceiptPayload(content: TestReceiptContent): Uint8Array {
  const set = new asn1js.Set({
    value: [
      attribute(0, utf8(content.receiptType ?? 'ProductionSandbox')),
      attribute(2, utf8(content.bundleId)),
      attribute(3, utf8(content.applicationVersion ?? '1')),
      attribute(12, ia5(rfc3339(content.receiptCreationDate))),
      attribute(19, utf8('1.0')),
      ...(content.inApp ?? []).map((p) => attribute(17, inAppSet(p))),
    ],
  });
  return new Uint8Array(set.toBER());
}

function chunked(bytes: Uint8Array, size: number): asn1js.OctetString {
  const value: asn1js.OctetString[] = [];
  for (let i = 0; i < bytes.byteLength; i += size) value.push(new asn1js.OctetString({ valueHex: bytes.slice(i, i + size) }));
  const octets = new asn1js.OctetString({ idBlock: { isConstructed: true }, isConstructed: true, value });
  octets.lenBlock.isIndefiniteForm = true;
  return octets;
}

/** Returns the receipt as base64, the way StoreKit 1 apps send it. */
export async function buildReceipt(content: TestReceiptContent, options: BuildReceiptOptions): Promise<string> {
  const { pki } = options;
  const engine = new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as PkijsCrypto });
  const payload = encodeReceiptPayload(content);
  const signerCert = pkijs.Certificate.fromBER(pki.signer.der);
  const certificates = [
    ...[pki.signer, pki.intermediate, ...(options.includeRoot ? [pki.root] : [])].map((c) => c.der),
    ...(options.extraCertificates ?? []),
  ].map((der) => pkijs.Certificate.fromBER(der));
  const signedData = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({
      eContentType: '1.2.840.113549.1.7.1',
      eContent: new asn1js.OctetString({ valueHex: payload }),
    }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: signerCert.issuer, serialNumber: signerCert.serialNumber }),
      }),
    ],
    certificates,
  });
  // No signed attributes, as in Apple's receipts: the signature covers the content itself.
  await signedData.sign(pki.signer.keys.privateKey as never, 0, 'SHA-256', undefined, engine);

  const swapped = options.swapContentAfterSigning;
  const finalPayload = swapped === undefined ? payload : encodeReceiptPayload(swapped);
  const indefinite = options.encoding === 'indefinite';
  signedData.encapContentInfo.eContent = indefinite ? chunked(finalPayload, 1024) : new asn1js.OctetString({ valueHex: finalPayload });

  const signedDataSchema = signedData.toSchema(true) as asn1js.Sequence;
  const contentInfo = new pkijs.ContentInfo({ contentType: pkijs.ContentInfo.SIGNED_DATA, content: signedDataSchema });
  const outer = contentInfo.toSchema() as asn1js.Sequence;
  if (indefinite) {
    // Xcode writes the envelope down to the content with indefinite lengths; marking the
    // innermost block makes asn1js propagate the form to every enclosing constructed block.
    const encap = signedDataSchema.valueBlock.value[2] as asn1js.Sequence;
    for (const block of [outer, outer.valueBlock.value[1]!, signedDataSchema, encap, encap.valueBlock.value[1]!]) {
      block.lenBlock.isIndefiniteForm = true;
      (block.valueBlock as { isIndefiniteForm?: boolean }).isIndefiniteForm = true;
    }
  }
  return Buffer.from(outer.toBER()).toString('base64');
}
