import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, selectList } from '../../src/db/raw.js';
import { serviceState } from '../../src/db/schema.js';
import { backendName, createTestDatabase, type TestDatabase } from '../helpers/database.js';

// Hand-built statements of the ingest's group commit go to tx.driver (docs/architecture.md,
// "Database access"): they must be statements of the very transaction the query builder
// writes in, committed and rolled back with it.
describe(`the driver a database transaction hands out (${backendName})`, () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  }, 120_000);
  afterAll(async () => database?.destroy());

  const keysLike = async (prefix: string) =>
    (await database.handle.db.select({ key: serviceState.key }).from(serviceState))
      .map((row) => row.key)
      .filter((key) => key.startsWith(prefix))
      .sort();

  it('sees what the query builder wrote in the same transaction, and the builder sees what it wrote', async () => {
    const seen = await database.handle.db.transaction(async (tx) => {
      await tx.insert(serviceState).values({ key: 'same-tx.builder', value: 1 });
      const viaDriver = await tx.driver.query<{ key: string }>(`select ${selectList(serviceState, ['key'])} from service_state where key = $1`, [
        'same-tx.builder',
      ]);
      await insertRows(tx, serviceState, [{ key: 'same-tx.driver', value: JSON.stringify(2) }]);
      const viaBuilder = await tx.select({ key: serviceState.key }).from(serviceState).where(eq(serviceState.key, 'same-tx.driver'));
      return { viaDriver, viaBuilder };
    });
    expect(seen.viaDriver).toEqual([{ key: 'same-tx.builder' }]);
    expect(seen.viaBuilder).toEqual([{ key: 'same-tx.driver' }]);
    expect(await keysLike('same-tx.')).toEqual(['same-tx.builder', 'same-tx.driver']);
  });

  it('rolls back what went through the driver when the transaction fails', async () => {
    const failed = database.handle.db.transaction(async (tx) => {
      await insertRows(tx, serviceState, [{ key: 'rolled-back.driver', value: JSON.stringify(1) }]);
      await tx.insert(serviceState).values({ key: 'rolled-back.builder', value: 2 });
      throw new Error('the work failed');
    });
    await expect(failed).rejects.toThrow('the work failed');
    expect(await keysLike('rolled-back.')).toEqual([]);
  });
});
