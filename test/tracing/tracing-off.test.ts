import { describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../../src/db/client.js';
import { traceDatabase } from '../../src/tracing/traced-database.js';
import { noopTracing } from '../../src/tracing/tracing.js';

describe('tracing off', () => {
  it('runs the work and returns what it returns, with no span to fill', async () => {
    const seen: unknown[] = [];
    const result = await noopTracing.span('x', { attributes: { a: 1 } }, async (span) => {
      span.setAttributes({ b: 2 });
      seen.push('ran');
      return 42;
    });
    expect(result).toBe(42);
    expect(seen).toEqual(['ran']);
    expect(noopTracing.capture()).toBeUndefined();
    expect(noopTracing.start('y').run(() => 'inside')).toBe('inside');
  });

  it('passes a failure through unchanged', async () => {
    const failure = new Error('boom');
    await expect(noopTracing.span('x', {}, async () => Promise.reject(failure))).rejects.toBe(failure);
  });

  it('leaves the database handle itself in place (no wrapper on the hot path)', () => {
    const handle = { kind: 'pglite' } as unknown as DatabaseHandle;
    expect(traceDatabase(handle, noopTracing)).toBe(handle);
  });
});
