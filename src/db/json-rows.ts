import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { queryRows, type Executor } from './client.js';

// Many rows as one JSON parameter: PostgreSQL unpacks them (json_populate_recordset)
// instead of the driver and the query builder handling one parameter per column per
// row. For the hot multi-row writes of the ingest path, where that handling dominated.

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * `insert into <table> (<columns>) select ... from <rows as JSON> <tail>`. Rows are keyed
 * by the table's property names; a column no row sets takes its default, a column some
 * rows leave out is null in those. `tail` is the rest (`on conflict ...`, `returning ...`).
 */
export async function insertJsonRows<T = Record<string, unknown>>(
  executor: Executor,
  table: PgTable,
  rows: ReadonlyArray<Record<string, unknown>>,
  tail: SQL = sql``,
): Promise<T[]> {
  if (rows.length === 0) return [];
  const columns = Object.entries(getTableColumns(table)).filter(([property]) => rows.some((row) => row[property] !== undefined));
  const json = JSON.stringify(
    rows.map((row) => {
      const out: Record<string, unknown> = {};
      for (const [property, column] of columns) {
        const value = row[property];
        out[column.name] = value instanceof Date ? value.toISOString() : value;
      }
      return out;
    }),
  );
  const names = sql.raw(columns.map(([, column]) => quote(column.name)).join(', '));
  const target = sql.raw(quote(getTableName(table)));
  return queryRows<T>(executor, sql`insert into ${target} (${names}) select ${names} from json_populate_recordset(null::${target}, ${json}::json) ${tail}`);
}

/**
 * `on conflict (<key>) do update set` every other column (or only the `only` ones) to the
 * proposed row's value.
 */
export function onConflictReplace(table: PgTable, key: string, only?: readonly string[]): SQL {
  const columns = getTableColumns(table);
  const keyColumn = columns[key];
  if (!keyColumn) throw new Error(`${getTableName(table)} has no column ${key}`);
  for (const property of only ?? []) if (!columns[property]) throw new Error(`${getTableName(table)} has no column ${property}`);
  const set = Object.entries(columns)
    .filter(([property]) => property !== key && (only === undefined || only.includes(property)))
    .map(([, column]) => `${quote(column.name)} = excluded.${quote(column.name)}`)
    .join(', ');
  return sql.raw(`on conflict (${quote(keyColumn.name)}) do update set ${set}`);
}
