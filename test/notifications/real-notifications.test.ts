import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSignedDataVerifier, DEFAULT_ROOT_CERTIFICATE_PATH, loadRootCertificates } from '../../src/apple/verifier/index.js';
import { projectRoot } from '../../src/paths.js';
import { backendName } from '../helpers/database.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, storedPurchase } from './support.js';

const realDir = path.resolve(projectRoot, '../shared/apple/real');
const BUNDLE_ID = 'com.loki-project.loki-messenger';
const APP_APPLE_ID = 1470168868;
const ORIGINAL_TRANSACTION_ID = '2000001024993299';

interface ManifestNested {
  signedDate: number;
  transactionId?: string;
  originalTransactionId: string;
  productId: string;
  revocationDate?: number;
}
interface ManifestItem {
  file: string;
  kind: string;
  signedDate: number;
  notificationType: string;
  notificationUUID: string;
  nested?: { signedTransactionInfo?: ManifestNested; signedRenewalInfo?: ManifestNested };
}

describe.skipIf(!existsSync(realDir))(
  `Apple's real Sandbox notifications through the webhook (${backendName}; skipped when ../shared/apple/real is absent)`,
  () => {
    const t = useTestApp(() => ({
      env: { APPLE_BUNDLE_ID: BUNDLE_ID, APPLE_APP_APPLE_ID: String(APP_APPLE_ID) },
      overrides: {
        // Apple's own root, offline: certificate validity is checked at each payload's signedDate.
        verifier: createSignedDataVerifier({
          rootCertificates: loadRootCertificates([DEFAULT_ROOT_CERTIFICATE_PATH]),
          bundleId: BUNDLE_ID,
          appAppleId: APP_APPLE_ID,
          environments: ['Production', 'Sandbox'],
          onlineChecks: false,
        }),
      },
    }));
    const files = Array.from({ length: 14 }, (_, i) => `v2-notification-${String(i + 1).padStart(2, '0')}.json`);
    const manifest = () =>
      (JSON.parse(readFileSync(path.join(realDir, 'manifest.json'), 'utf8')) as { items: ManifestItem[] }).items.filter((item) => files.includes(item.file));

    it('verifies and processes all 14, and answers duplicate for each again', async () => {
      const bodies = files.map((file) => JSON.parse(readFileSync(path.join(realDir, file), 'utf8')) as { signedPayload: string });
      for (const body of bodies) expect(await deliver(t.app, body.signedPayload)).toBe('processed');
      for (const body of bodies) expect(await deliver(t.app, body.signedPayload)).toBe('duplicate');

      const items = manifest();
      const stored = await storedPurchase(t.deps.database.db, ORIGINAL_TRANSACTION_ID);

      // Every transaction the notifications carry, each in its latest signed version.
      const latest = new Map<string, ManifestNested>();
      for (const item of items) {
        const tx = item.nested?.signedTransactionInfo;
        if (tx?.transactionId && (latest.get(tx.transactionId)?.signedDate ?? -1) < tx.signedDate) latest.set(tx.transactionId, tx);
      }
      expect(stored.transactions.map((x) => x.transactionId).sort()).toEqual([...latest.keys()].sort());
      for (const row of stored.transactions) {
        const expected = latest.get(row.transactionId)!;
        expect(row.signedDate.getTime(), row.transactionId).toBe(expected.signedDate);
        expect(row.productId).toBe(expected.productId);
        expect(row.revocationDate?.getTime() ?? null).toBe(expected.revocationDate ?? null);
        expect(row.environment).toBe('Sandbox');
      }

      const renewals = items.flatMap((item) => (item.nested?.signedRenewalInfo ? [item.nested.signedRenewalInfo] : []));
      const newestRenewal = renewals.reduce((a, b) => (b.signedDate > a.signedDate ? b : a));
      const newest = items.reduce((a, b) => (b.signedDate > a.signedDate ? b : a));
      expect(newest.notificationType).toBe('REFUND');
      expect(stored.subscription).toMatchObject({
        productId: newestRenewal.productId,
        renewalSignedDate: new Date(newestRenewal.signedDate),
        // The REFUND carries data.status 1: the subscription itself is still active.
        appleStatus: 1,
        statusSignedDate: new Date(newest.signedDate),
      });

      // The refunded transaction is an older period; the resubscription after it stays current.
      const justAfter = stored.state(newest.signedDate + 1000);
      expect(justAfter).toMatchObject({ status: 'active', transactionId: '2000001035288486', productId: 'com.getsession.org.pro_sub_3_months' });
      expect(stored.state((justAfter?.expiresDate?.getTime() ?? 0) + 1)?.status).toBe('expired');
    });
  },
);
