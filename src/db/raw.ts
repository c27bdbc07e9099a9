import { getTableColumns, getTableName } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Transaction } from './client.js';

// Hand-built SQL for the statements a benchmark shows the query builder cannot afford
// (docs/architecture.md, "Database access"): the ingest's group commit writes every
// notification through a handful of multi-row statements, and building them with the
// query builder cost more main-thread time than any other step but the signature checks.
// They go to the driver of the caller's transaction (`tx.driver`). Table and column names
// come from the schema, by property name (a misspelt one does not compile); values always
// travel as parameters.

/** A schema property of `table`: what the query builder calls the column. */
export type ColumnOf<T extends PgTable> = keyof T['_']['columns'] & string;

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

function columnOf(table: PgTable, property: string) {
  const column = getTableColumns(table)[property];
  if (!column) throw new Error(`${getTableName(table)} has no column ${property}`);
  return column;
}

/** The quoted table name. */
export const tableName = (table: PgTable): string => quote(getTableName(table));

/** The quoted database name of a schema property, optionally qualified by `alias`. */
export function columnName<T extends PgTable>(table: T, property: ColumnOf<T>, alias?: string): string {
  const name = quote(columnOf(table, property).name);
  return alias === undefined ? name : `${alias}.${name}`;
}

/**
 * The SQL type a column is read as: int8 columns the schema reads as numbers come back as
 * float8 (node-postgres hands int8 back as a string).
 */
export function readType<T extends PgTable>(table: T, property: ColumnOf<T>): string {
  const column = columnOf(table, property);
  return column.columnType === 'PgBigInt53' ? 'float8' : column.getSQLType();
}

/** A column as read: its name, cast when `readType` differs from its own type. */
export function readColumn<T extends PgTable>(table: T, property: ColumnOf<T>, alias?: string): string {
  const cast = columnOf(table, property).columnType === 'PgBigInt53' ? '::float8' : '';
  return `${columnName(table, property, alias)}${cast}`;
}

/**
 * A select (or returning) list of `properties` of `table`, each aliased to its property
 * name, so rows come back shaped like the schema's select type.
 */
export function selectList<T extends PgTable>(table: T, properties: ReadonlyArray<ColumnOf<T>>): string {
  return properties.map((property) => `${readColumn(table, property)} as ${quote(property)}`).join(', ');
}

/**
 * `insert into <table> (<columns>) values (...), (...) <tail>`: the columns any row sets,
 * keyed by the schema's property names; a value a row leaves undefined takes the column's
 * default. `tail` is the rest (`on conflict ...`, `returning ...`).
 */
export async function insertRows<T = Record<string, unknown>>(
  tx: Transaction,
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
  return tx.driver.query<T>(`insert into ${tableName(table)} (${names}) values ${tuples.join(', ')} ${tail}`, params);
}

/**
 * `on conflict (<key>) do update set` every other column (or only the `only` ones) to the
 * proposed row's value.
 */
export function onConflictReplace<T extends PgTable>(table: T, key: ColumnOf<T>, only?: ReadonlyArray<ColumnOf<T>>): string {
  const set = Object.entries(getTableColumns(table))
    .filter(([property]) => property !== key && (only === undefined || only.includes(property as ColumnOf<T>)))
    .map(([, column]) => `${quote(column.name)} = excluded.${quote(column.name)}`)
    .join(', ');
  return `on conflict (${columnName(table, key)}) do update set ${set}`;
}
