import { getTableColumns, getTableName } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Executor } from './client.js';

// The ingest's group commit writes every notification through a handful of multi-row
// statements; building them with the query builder cost more main-thread time than any
// other step but the signature checks. These helpers send hand-built SQL straight to the
// driver under a database or transaction handle, still inside the caller's transaction.
// Table and column names come from the schema, values always travel as parameters.

interface Driver {
  query(text: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

/** The node-postgres or PGlite client under a drizzle database or transaction. */
function driverOf(executor: Executor): Driver {
  const client = (executor as unknown as { session?: { client?: Partial<Driver> } }).session?.client;
  if (typeof client?.query !== 'function') throw new Error('raw queries need a node-postgres or PGlite database handle');
  return client as Driver;
}

export async function rawQuery<T>(executor: Executor, text: string, params: readonly unknown[] = []): Promise<T[]> {
  const { rows } = await driverOf(executor).query(text, [...params]);
  return rows as T[];
}

/**
 * rawQuery with rows as arrays in select-list order (for statements whose select list
 * repeats a name, as a union of differently shaped rows does).
 */
export async function rawQueryArrays(executor: Executor, text: string, params: readonly unknown[] = []): Promise<unknown[][]> {
  const driver = driverOf(executor) as Driver & { exec?: unknown };
  // PGlite (and its transactions) take options third; node-postgres takes one config object.
  const result =
    typeof driver.exec === 'function'
      ? await (driver as unknown as { query(t: string, p: unknown[], o: object): Promise<{ rows: unknown[] }> }).query(text, [...params], { rowMode: 'array' })
      : await (driver as unknown as { query(c: object): Promise<{ rows: unknown[] }> }).query({ text, values: [...params], rowMode: 'array' });
  return result.rows as unknown[][];
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * `insert into <table> (<columns>) values (...), (...) <tail>`: the columns any row sets,
 * keyed by the schema's property names; a value a row leaves undefined takes the column's
 * default. `tail` is the rest (`on conflict ...`, `returning ...`).
 */
export async function insertRows<T = Record<string, unknown>>(
  executor: Executor,
  table: PgTable,
  rows: ReadonlyArray<Record<string, unknown>>,
  tail = '',
): Promise<T[]> {
  if (rows.length === 0) return [];
  const columns = Object.entries(getTableColumns(table)).filter(([property]) => rows.some((row) => row[property] !== undefined));
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const values = columns.map(([property]) => {
      const value = row[property];
      if (value === undefined) return 'default';
      params.push(value);
      return `$${params.length}`;
    });
    return `(${values.join(', ')})`;
  });
  const names = columns.map(([, column]) => quote(column.name)).join(', ');
  return rawQuery<T>(executor, `insert into ${quote(getTableName(table))} (${names}) values ${tuples.join(', ')} ${tail}`, params);
}

/**
 * `on conflict (<key>) do update set` every other column (or only the `only` ones) to the
 * proposed row's value.
 */
export function onConflictReplace(table: PgTable, key: string, only?: readonly string[]): string {
  const columns = getTableColumns(table);
  const keyColumn = columns[key];
  if (!keyColumn) throw new Error(`${getTableName(table)} has no column ${key}`);
  for (const property of only ?? []) if (!columns[property]) throw new Error(`${getTableName(table)} has no column ${property}`);
  const set = Object.entries(columns)
    .filter(([property]) => property !== key && (only === undefined || only.includes(property)))
    .map(([, column]) => `${quote(column.name)} = excluded.${quote(column.name)}`)
    .join(', ');
  return `on conflict (${quote(keyColumn.name)}) do update set ${set}`;
}

/**
 * A select list of `properties` of `table`, each aliased to its property name, so rows come
 * back shaped like the schema's select type. int8 columns the schema reads as numbers are
 * sent as float8 (node-postgres hands int8 back as a string).
 */
export function selectList(table: PgTable, properties: readonly string[]): string {
  const columns = getTableColumns(table);
  return properties
    .map((property) => {
      const column = columns[property];
      if (!column) throw new Error(`${getTableName(table)} has no column ${property}`);
      const cast = column.columnType === 'PgBigInt53' ? '::float8' : '';
      return `${quote(column.name)}${cast} as ${quote(property)}`;
    })
    .join(', ');
}
