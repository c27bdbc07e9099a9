import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSignedDataVerifier, DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from '../../../src/apple/verifier/index.js';
import { projectRoot } from '../../../src/paths.js';
import { codeOf } from './support.js';

const realDir = path.resolve(projectRoot, '../shared/apple/real');
const APPLE_ROOT_G3_SHA256 = '63343abfb89a6a03ebb57e9b3f5fa7be7c4f5c756f3017b3a8c488c3653e9179';

/** What these tests read of a decoded real JWS: a notification, a transaction or a renewal info. */
interface RealPayload {
  notificationUUID?: string;
  originalTransactionId?: string;
  bundleId?: string;
  data?: { bundleId: string; appAppleId?: number | null; signedTransactionInfo?: string; signedRenewalInfo?: string };
}

function decodePayload(jws: string): RealPayload {
  return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

interface RealJws {
  file: string;
  kind: 'notification' | 'transaction' | 'renewal-info';
  jws: string;
  payload: RealPayload;
}

function loadReal(): RealJws[] {
  return readdirSync(realDir)
    .sort()
    .flatMap((file): RealJws[] => {
      const full = path.join(realDir, file);
      if (/^v2-notification-\d+\.json$/.test(file)) {
        const jws = JSON.parse(readFileSync(full, 'utf8')).signedPayload as string;
        return [{ file, kind: 'notification', jws, payload: decodePayload(jws) }];
      }
      if (/^transaction-\d+\.jws$/.test(file) || /^renewal-info-\d+\.jws$/.test(file)) {
        const jws = readFileSync(full, 'utf8').trim();
        const kind = file.startsWith('transaction') ? 'transaction' : 'renewal-info';
        return [{ file, kind, jws, payload: decodePayload(jws) }];
      }
      return [];
    });
}

/** The app a real JWS speaks for, so each can be verified under its own configuration. */
function appOf(item: RealJws): { bundleId: string; appAppleId?: number } {
  if (item.kind === 'notification') {
    const data = item.payload.data;
    if (data === undefined) throw new Error(`${item.file}: a notification without data`);
    return { bundleId: data.bundleId, appAppleId: data.appAppleId ?? undefined };
  }
  // Renewal infos carry no bundle id; any configured one is accepted for them.
  return { bundleId: item.payload.bundleId ?? 'com.example.any' };
}

function verifierFor(item: RealJws, options: { bundleId?: string; onlineChecks?: boolean; fetch?: typeof fetch } = {}) {
  const app = appOf(item);
  return createSignedDataVerifier({
    rootCertificates: loadRootCertificates([DEFAULT_ROOT_CERTIFICATE_PATH]),
    bundleId: options.bundleId ?? app.bundleId,
    ...(app.appAppleId === undefined ? {} : { appAppleId: app.appAppleId }),
    environments: ['Sandbox', 'Production'],
    onlineChecks: options.onlineChecks ?? false,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

function verify(item: RealJws, verifier: ReturnType<typeof verifierFor>): Promise<unknown> {
  if (item.kind === 'notification') return verifier.verifyNotification(item.jws);
  if (item.kind === 'transaction') return verifier.verifyTransaction(item.jws);
  return verifier.verifyRenewalInfo(item.jws);
}

describe('the bundled Apple root', () => {
  it('is Apple Root CA - G3, byte for byte', () => {
    const der = readFileSync(DEFAULT_ROOT_CERTIFICATE_PATH);
    expect(createHash('sha256').update(der).digest('hex')).toBe(APPLE_ROOT_G3_SHA256);
    const [loaded] = loadRootCertificates([DEFAULT_ROOT_CERTIFICATE_PATH]);
    expect(Buffer.from(loaded ?? []).equals(der)).toBe(true);
  });
});

describe.skipIf(!existsSync(realDir))('real Apple-signed data (skipped when ../shared/apple/real is absent)', () => {
  const items = existsSync(realDir) ? loadReal() : [];

  it('finds the 25 real JWS: 17 notifications, 5 transactions, 3 renewal infos', () => {
    expect(items.filter((i) => i.kind === 'notification')).toHaveLength(17);
    expect(items.filter((i) => i.kind === 'transaction')).toHaveLength(5);
    expect(items.filter((i) => i.kind === 'renewal-info')).toHaveLength(3);
  });

  it('accepts every one offline with the bundled root, nested JWS included', async () => {
    for (const item of items) {
      const result = await verify(item, verifierFor(item));
      if (item.kind === 'notification') {
        const notification = result as Awaited<ReturnType<ReturnType<typeof verifierFor>['verifyNotification']>>;
        expect(notification.payload.notificationUUID, item.file).toBe(item.payload.notificationUUID);
        expect(notification.transaction !== undefined, item.file).toBe(item.payload.data?.signedTransactionInfo !== undefined);
        expect(notification.renewalInfo !== undefined, item.file).toBe(item.payload.data?.signedRenewalInfo !== undefined);
      } else {
        expect((result as { originalTransactionId: string }).originalTransactionId, item.file).toBe(item.payload.originalTransactionId);
      }
    }
  });

  it('decodes the nested transactions and renewal infos of the subscription notifications', async () => {
    const withNested = items.filter((i) => i.kind === 'notification' && i.payload.data?.signedTransactionInfo);
    expect(withNested.length).toBeGreaterThanOrEqual(14);
    for (const item of withNested) {
      const result = await verifierFor(item).verifyNotification(item.jws);
      expect(result.transaction?.originalTransactionId, item.file).toBe('2000001024993299');
      expect(result.renewalInfo?.originalTransactionId, item.file).toBe('2000001024993299');
    }
  });

  it('rejects those whose leaf has expired when validity is checked now, before asking OCSP', async () => {
    const failIfCalled: typeof fetch = async () => {
      throw new Error('OCSP must not be asked about an expired chain');
    };
    const now = Date.now();
    let expired = 0;
    for (const item of items) {
      const leaf = new (await import('node:crypto')).X509Certificate(
        Buffer.from(JSON.parse(Buffer.from(item.jws.split('.')[0] ?? '', 'base64url').toString()).x5c[0], 'base64'),
      );
      if (Date.parse(leaf.validTo) > now) continue;
      expired += 1;
      expect(await codeOf(verify(item, verifierFor(item, { onlineChecks: true, fetch: failIfCalled }))), item.file).toBe('CERTIFICATE_EXPIRED');
    }
    expect(expired).toBeGreaterThan(0);
  });

  it('rejects every one under a configuration with another bundle id', async () => {
    for (const item of items) {
      const verifier = verifierFor(item, { bundleId: 'com.example.someone-else' });
      if (item.kind === 'renewal-info') {
        // Renewal infos name no bundle; they are refused through an environment the configuration lacks.
        const strict = createSignedDataVerifier({
          rootCertificates: loadRootCertificates([DEFAULT_ROOT_CERTIFICATE_PATH]),
          bundleId: 'com.example.someone-else',
          environments: ['Production'],
          onlineChecks: false,
        });
        expect(await codeOf(strict.verifyRenewalInfo(item.jws)), item.file).toBe('WRONG_ENVIRONMENT');
        continue;
      }
      expect(await codeOf(verify(item, verifier)), item.file).toBe('WRONG_BUNDLE_ID');
    }
  });
});
