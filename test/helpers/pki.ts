// A throwaway PKI shaped like Apple's App Store signing chain (root → WWDR-like
// intermediate → leaf), built at run time so tests can sign any payload and any
// broken variant of the chain. One PKI per test file: key and certificate generation
// costs a few milliseconds each.
// @peculiar/x509 2 resolves its services through tsyringe, which needs a Reflect polyfill.
import 'reflect-metadata';
import { sign as cryptoSign, KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MONTH, TEST_MONTHLY_PRODUCT_ID } from './constants.js';

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const APPLE_INTERMEDIATE_MARKER_OID = '1.2.840.113635.100.6.2.1';
export const APPLE_LEAF_MARKER_OID = '1.2.840.113635.100.6.11.1';

// A null extension value is what Apple's certificates carry for these markers.
const DER_NULL = new Uint8Array([0x05, 0x00]);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface TestPki {
  rootDer: Buffer;
  intermediateDer: Buffer;
  leafDer: Buffer;
  leafPrivateKey: KeyObject;
  /** compact JWS, header {alg:'ES256', x5c:[leaf, intermediate, root] base64 DER}, payload JSON */
  sign(payload: object, header?: Record<string, unknown>): string;
  /** x5c array (base64 DER) as put in the header by `sign`. */
  x5c: string[];
  root: x509.X509Certificate;
  intermediate: x509.X509Certificate;
  leaf: x509.X509Certificate;
  rootKeys: CryptoKeyPair;
  intermediateKeys: CryptoKeyPair;
  leafKeys: CryptoKeyPair;
}

interface Validity {
  notBefore?: Date;
  notAfter?: Date;
}

export interface TestPkiOptions {
  /** Validity of the leaf (default 2020-01-01 .. 2040-01-01). */
  notBefore?: Date;
  notAfter?: Date;
  intermediateValidity?: Validity;
  rootValidity?: Validity;
  /** Reuse this root (keys and certificate) instead of creating one. */
  reuseRootFrom?: TestPki;
  /** Reuse root and intermediate, and issue a fresh leaf under them. */
  reuseIntermediateFrom?: TestPki;
  omitIntermediateMarker?: boolean;
  omitLeafMarker?: boolean;
  /** Leaf carries basicConstraints cA=true. */
  leafIsCa?: boolean;
  /** Intermediate carries basicConstraints cA=false. */
  intermediateNotCa?: boolean;
  /** Leaf key usage without digitalSignature (keyCertSign only). */
  leafWrongKeyUsage?: boolean;
  /** Intermediate key usage without keyCertSign (digitalSignature only). */
  intermediateWrongKeyUsage?: boolean;
  /** OCSP responder URL put in the AIA of the leaf and the intermediate. */
  ocspUrl?: string;
  /** Subject common-name suffix, to tell PKIs apart in messages. */
  label?: string;
}

const DEFAULT_NOT_BEFORE = new Date('2020-01-01T00:00:00Z');
const DEFAULT_NOT_AFTER = new Date('2040-01-01T00:00:00Z');

const ROOT_NAME = 'CN=Test Root CA - G3, OU=Test Certification Authority, O=Test Inc., C=US';
const INTERMEDIATE_NAME = 'CN=Test Worldwide Developer Relations Certification Authority, OU=G6, O=Test Inc., C=US';

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

function markerExtension(oid: string): x509.Extension {
  return new x509.Extension(oid, false, DER_NULL);
}

function aiaExtension(url: string): x509.Extension {
  return new x509.AuthorityInfoAccessExtension({ ocsp: [url] });
}

async function createRoot(options: TestPkiOptions) {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: ROOT_NAME,
    keys,
    notBefore: options.rootValidity?.notBefore ?? DEFAULT_NOT_BEFORE,
    notAfter: options.rootValidity?.notAfter ?? DEFAULT_NOT_AFTER,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keys, cert };
}

async function createIntermediate(options: TestPkiOptions, root: { keys: CryptoKeyPair; cert: x509.X509Certificate }) {
  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(!options.intermediateNotCa, options.intermediateNotCa ? undefined : 0, true),
    new x509.KeyUsagesExtension(
      options.intermediateWrongKeyUsage ? x509.KeyUsageFlags.digitalSignature : x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(root.keys.publicKey),
  ];
  if (!options.omitIntermediateMarker) extensions.push(markerExtension(APPLE_INTERMEDIATE_MARKER_OID));
  if (options.ocspUrl) extensions.push(aiaExtension(options.ocspUrl));
  const cert = await x509.X509CertificateGenerator.create({
    subject: INTERMEDIATE_NAME,
    issuer: root.cert.subject,
    publicKey: keys.publicKey,
    signingKey: root.keys.privateKey,
    notBefore: options.intermediateValidity?.notBefore ?? DEFAULT_NOT_BEFORE,
    notAfter: options.intermediateValidity?.notAfter ?? DEFAULT_NOT_AFTER,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return { keys, cert };
}

async function createLeaf(options: TestPkiOptions, intermediate: { keys: CryptoKeyPair; cert: x509.X509Certificate }) {
  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.KeyUsagesExtension(options.leafWrongKeyUsage ? x509.KeyUsageFlags.keyCertSign : x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(intermediate.keys.publicKey),
  ];
  if (options.leafIsCa) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  else extensions.push(new x509.BasicConstraintsExtension(false, undefined, false));
  if (!options.omitLeafMarker) extensions.push(markerExtension(APPLE_LEAF_MARKER_OID));
  if (options.ocspUrl) extensions.push(aiaExtension(options.ocspUrl));
  const label = options.label ? ` ${options.label}` : '';
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=Test StoreKit Signing${label}, OU=Test Worldwide Developer Relations, O=Test Inc., C=US`,
    issuer: intermediate.cert.subject,
    publicKey: keys.publicKey,
    signingKey: intermediate.keys.privateKey,
    notBefore: options.notBefore ?? DEFAULT_NOT_BEFORE,
    notAfter: options.notAfter ?? DEFAULT_NOT_AFTER,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  return { keys, cert };
}

function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** Signs `header.payload` as ES256 with `key` (JOSE raw r||s signature). */
export function signCompactJws(key: KeyObject, header: object, payload: object | string): string {
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(body)}`;
  const signature = cryptoSign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${signature.toString('base64url')}`;
}

export async function createTestPki(options: TestPkiOptions = {}): Promise<TestPki> {
  const reused = options.reuseIntermediateFrom;
  const rootSource = reused ?? options.reuseRootFrom;
  const root = rootSource ? { keys: rootSource.rootKeys, cert: rootSource.root } : await createRoot(options);
  const intermediate = reused ? { keys: reused.intermediateKeys, cert: reused.intermediate } : await createIntermediate(options, root);
  const leaf = await createLeaf(options, intermediate);

  const rootDer = Buffer.from(root.cert.rawData);
  const intermediateDer = Buffer.from(intermediate.cert.rawData);
  const leafDer = Buffer.from(leaf.cert.rawData);
  const leafPrivateKey = KeyObject.from(leaf.keys.privateKey);
  const x5c = [leafDer, intermediateDer, rootDer].map((der) => der.toString('base64'));

  return {
    rootDer,
    intermediateDer,
    leafDer,
    leafPrivateKey,
    x5c,
    root: root.cert,
    intermediate: intermediate.cert,
    leaf: leaf.cert,
    rootKeys: root.keys,
    intermediateKeys: intermediate.keys,
    leafKeys: leaf.keys,
    sign(payload, header) {
      return signCompactJws(leafPrivateKey, { alg: 'ES256', x5c, ...header }, payload);
    },
  };
}

export interface NotificationInput {
  notificationType: string;
  subtype?: string;
  notificationUUID?: string;
  signedDate?: number;
  bundleId: string;
  appAppleId?: number;
  environment: string;
  /** Transaction fields; defaults fill the required ones. Signed as signedTransactionInfo. */
  transaction?: object;
  /** Renewal-info fields; defaults fill the required ones. Signed as signedRenewalInfo. */
  renewalInfo?: object;
  status?: number;
}

const DEFAULT_SIGNED_DATE = Date.parse('2025-06-01T12:00:00Z');

/** signs a V2 notification whose data carries a signed transaction and renewal info */
export function signNotification(pki: TestPki, input: NotificationInput): string {
  const signedDate = input.signedDate ?? DEFAULT_SIGNED_DATE;
  const originalTransactionId = '2000000000000001';
  const transaction = {
    transactionId: '2000000000000002',
    originalTransactionId,
    webOrderLineItemId: '2000000000000003',
    bundleId: input.bundleId,
    productId: TEST_MONTHLY_PRODUCT_ID,
    subscriptionGroupIdentifier: '21000000',
    purchaseDate: signedDate - 60_000,
    originalPurchaseDate: signedDate - 60_000,
    expiresDate: signedDate + MONTH,
    quantity: 1,
    type: 'Auto-Renewable Subscription',
    inAppOwnershipType: 'PURCHASED',
    signedDate,
    environment: input.environment,
    transactionReason: 'PURCHASE',
    storefront: 'USA',
    storefrontId: '143441',
    price: 4990,
    currency: 'USD',
    ...input.transaction,
  };
  const renewalInfo = {
    originalTransactionId,
    autoRenewProductId: TEST_MONTHLY_PRODUCT_ID,
    productId: TEST_MONTHLY_PRODUCT_ID,
    autoRenewStatus: 1,
    signedDate,
    environment: input.environment,
    recentSubscriptionStartDate: signedDate - 60_000,
    renewalDate: signedDate + MONTH,
    ...input.renewalInfo,
  };
  const data: Record<string, unknown> = {
    bundleId: input.bundleId,
    bundleVersion: '1',
    environment: input.environment,
    signedTransactionInfo: pki.sign(transaction),
    signedRenewalInfo: pki.sign(renewalInfo),
    status: input.status ?? 1,
  };
  if (input.appAppleId !== undefined) data.appAppleId = input.appAppleId;
  const payload: Record<string, unknown> = {
    notificationType: input.notificationType,
    notificationUUID: input.notificationUUID ?? webcrypto.randomUUID(),
    data,
    version: '2.0',
    signedDate,
  };
  if (input.subtype !== undefined) payload.subtype = input.subtype;
  return pki.sign(payload);
}

/**
 * A certificate an attacker can make for free: self-signed by a fresh key, named like the
 * test intermediate, padded with `extensions` meaningless extensions (about 12 bytes
 * each) so that parsing it costs far more than reading it.
 */
export async function createBloatedCertificate(extensions: number): Promise<Buffer> {
  const keys = await generateKeys();
  const padding = Array.from({ length: extensions }, (_, i) => new x509.Extension(`1.3.6.1.4.1.${i + 1}`, false, DER_NULL));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: INTERMEDIATE_NAME,
    keys,
    notBefore: DEFAULT_NOT_BEFORE,
    notAfter: DEFAULT_NOT_AFTER,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), ...padding],
  });
  return Buffer.from(cert.rawData);
}
