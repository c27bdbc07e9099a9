// A loopback OCSP responder double. It answers for certificates of the PKIs registered
// with it, signing as their issuer, and can be told to misbehave in the ways a real
// responder (or an attacker in the middle) might.
import 'reflect-metadata';
import { createHash, sign as cryptoSign, KeyObject, webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BasicOCSPResponse,
  type CertID,
  CertStatus,
  id_pkix_ocsp_basic,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, Name } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import type { TestPki } from './pki.js';

export type OcspMode =
  /** status good, signed by the issuer */
  | 'good'
  /** status revoked, signed by the issuer */
  | 'revoked'
  /** status unknown, signed by the issuer */
  | 'unknown'
  /** status good but nextUpdate already in the past */
  | 'stale'
  /** status good, signed by a key nobody certified */
  | 'wrongly-signed'
  /** status good, signed by a responder certificate the issuer issued with the OCSP-signing EKU */
  | 'delegated'
  /** as delegated, but the responder certificate lacks the OCSP-signing EKU */
  | 'delegated-without-eku'
  /** status good, but for another serial number than asked */
  | 'wrong-cert-id'
  /** HTTP 500 */
  | 'http-error'
  /** OCSPResponseStatus tryLater */
  | 'try-later';

export interface OcspResponder {
  /** http://127.0.0.1:<port>/ — put it in the PKI's AIA with `createTestPki({ ocspUrl })`. */
  url: string;
  /** Answer mode for every later request (default 'good'). */
  mode: OcspMode;
  /** Overrides `mode` for the certificate with this role only. */
  modeFor: Partial<Record<'leaf' | 'intermediate', OcspMode>>;
  /** How many requests arrived, per certificate role. */
  requests: { leaf: number; intermediate: number; unknown: number };
  /** Now, as the responder sees it, for thisUpdate/nextUpdate. */
  clock: () => Date;
  /** nextUpdate − thisUpdate of good answers. */
  validityMs: number;
  register(pki: TestPki): Promise<void>;
  close(): Promise<void>;
}

type CryptoKeyPair = webcrypto.CryptoKeyPair;

interface Issued {
  role: 'leaf' | 'intermediate';
  serial: Buffer;
  issuer: { cert: x509.X509Certificate; keys: CryptoKeyPair };
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

function sha1(data: ArrayBuffer | Uint8Array): Buffer {
  return createHash('sha1').update(new Uint8Array(data)).digest();
}

function nameHash(cert: x509.X509Certificate): Buffer {
  const asn = AsnConvert.parse(cert.rawData, Certificate);
  return sha1(AsnConvert.serialize(asn.tbsCertificate.subject));
}

function keyHash(cert: x509.X509Certificate): Buffer {
  const asn = AsnConvert.parse(cert.rawData, Certificate);
  return sha1(asn.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
}

function serialOf(cert: x509.X509Certificate): Buffer {
  return Buffer.from(AsnConvert.parse(cert.rawData, Certificate).tbsCertificate.serialNumber);
}

async function createDelegate(issuer: Issued['issuer'], withEku: boolean) {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(false)];
  if (withEku) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.ocspSigning]));
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=Test OCSP Responder${withEku ? '' : ' without EKU'}, O=Test Inc., C=US`,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    notBefore: new Date('2020-01-01T00:00:00Z'),
    notAfter: new Date('2040-01-01T00:00:00Z'),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  return { keys, cert };
}

export async function createOcspResponder(): Promise<OcspResponder> {
  const issued: Issued[] = [];
  const strangerKeys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const delegates = new Map<string, Awaited<ReturnType<typeof createDelegate>>>();

  function find(certId: CertID): Issued | undefined {
    const name = Buffer.from(certId.issuerNameHash.buffer);
    const key = Buffer.from(certId.issuerKeyHash.buffer);
    const serial = Buffer.from(certId.serialNumber);
    return issued.find((i) => nameHash(i.issuer.cert).equals(name) && keyHash(i.issuer.cert).equals(key) && i.serial.equals(serial));
  }

  async function answer(body: Buffer): Promise<{ status: number; body: Buffer }> {
    const request = AsnConvert.parse(body, OCSPRequest);
    const certId = request.tbsRequest.requestList[0]?.reqCert;
    const match = certId ? find(certId) : undefined;
    if (!certId || !match) {
      responder.requests.unknown += 1;
      const refused = new OCSPResponse({ responseStatus: OCSPResponseStatus.unauthorized });
      return { status: 200, body: Buffer.from(AsnConvert.serialize(refused)) };
    }
    responder.requests[match.role] += 1;
    const mode = responder.modeFor[match.role] ?? responder.mode;
    if (mode === 'http-error') return { status: 500, body: Buffer.from('boom') };
    if (mode === 'try-later') {
      const later = new OCSPResponse({ responseStatus: OCSPResponseStatus.tryLater });
      return { status: 200, body: Buffer.from(AsnConvert.serialize(later)) };
    }

    const now = responder.clock().getTime();
    const thisUpdate = new Date(mode === 'stale' ? now - 2 * responder.validityMs : now - 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + responder.validityMs);
    let certStatus: CertStatus;
    if (mode === 'revoked') certStatus = new CertStatus({ revoked: new RevokedInfo({ revocationTime: new Date(now - 60_000) }) });
    else if (mode === 'unknown') certStatus = new CertStatus({ unknown: null });
    else certStatus = new CertStatus({ good: null });
    const answeredId =
      mode === 'wrong-cert-id'
        ? Object.assign(Object.create(Object.getPrototypeOf(certId)), certId, {
            serialNumber: new Uint8Array([0x01, 0x02, 0x03]).buffer,
          })
        : certId;

    let signerKeys = match.issuer.keys;
    let signerCert: x509.X509Certificate = match.issuer.cert;
    const certs: Certificate[] = [];
    if (mode === 'wrongly-signed') signerKeys = strangerKeys;
    if (mode === 'delegated' || mode === 'delegated-without-eku') {
      const cacheKey = `${match.issuer.cert.serialNumber}:${mode}`;
      let delegate = delegates.get(cacheKey);
      if (!delegate) {
        delegate = await createDelegate(match.issuer, mode === 'delegated');
        delegates.set(cacheKey, delegate);
      }
      signerKeys = delegate.keys;
      signerCert = delegate.cert;
      certs.push(AsnConvert.parse(delegate.cert.rawData, Certificate));
    }
    const signerSubject = AsnConvert.parse(signerCert.rawData, Certificate).tbsCertificate.subject;
    const tbs = new ResponseData({
      responderID: new ResponderID({ byName: AsnConvert.parse(AsnConvert.serialize(signerSubject), Name) }),
      producedAt: new Date(now),
      responses: [new SingleResponse({ certID: answeredId, certStatus, thisUpdate, nextUpdate })],
    });
    const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
    const signature = cryptoSign('sha256', tbsDer, KeyObject.from(signerKeys.privateKey));
    const basic = new BasicOCSPResponse({
      tbsResponseData: tbs,
      signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_SHA256 }),
      signature: new Uint8Array(signature).buffer,
      ...(certs.length > 0 ? { certs } : {}),
    });
    const response = new OCSPResponse({
      responseStatus: OCSPResponseStatus.successful,
      responseBytes: new ResponseBytes({
        responseType: id_pkix_ocsp_basic,
        response: new OctetString(AsnConvert.serialize(basic)),
      }),
    });
    return { status: 200, body: Buffer.from(AsnConvert.serialize(response)) };
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      answer(Buffer.concat(chunks)).then(
        (result) => {
          res.writeHead(result.status, { 'content-type': 'application/ocsp-response' });
          res.end(result.body);
        },
        (error: unknown) => {
          res.writeHead(400);
          res.end(String(error));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const responder: OcspResponder = {
    url: `http://127.0.0.1:${port}/`,
    mode: 'good',
    modeFor: {},
    requests: { leaf: 0, intermediate: 0, unknown: 0 },
    clock: () => new Date(),
    validityMs: 60 * 60 * 1000,
    async register(pki) {
      issued.push(
        { role: 'intermediate', serial: serialOf(pki.intermediate), issuer: { cert: pki.root, keys: pki.rootKeys } },
        { role: 'leaf', serial: serialOf(pki.leaf), issuer: { cert: pki.intermediate, keys: pki.intermediateKeys } },
      );
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
  return responder;
}
