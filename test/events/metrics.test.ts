import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { DAY } from '../helpers/constants.js';
import { useTestApp } from '../helpers/fixtures.js';
import { deliver, scenario } from '../notifications/support.js';

const metrics = createMetrics({ processMetrics: false });
const t = useTestApp({ overrides: { metrics, events: metrics.events } });

async function recordedByType(): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric('ase_events_recorded_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.type), v.value]));
}

describe('events metrics', () => {
  it('counts committed events by type', async () => {
    const start = Date.now() - DAY;
    const s = scenario(t.pki, { start });
    await deliver(
      t.app,
      s.sign({ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: start, transaction: s.transaction(0, { appAccountToken: randomUUID() }) }),
    );
    await deliver(t.app, s.sign({ type: 'CONSUMPTION_REQUEST', signedDate: start + 1000, period: 0 }));
    expect(await recordedByType()).toEqual({ 'notification.received': 2, 'entitlements.updated': 1, 'consumption.requested': 1 });
  });
});
