// The benchmarks' own databases on a PostgreSQL server, created and dropped as the tests'
// are (test/helpers/database.ts).
import { createServerDatabase, databaseUrl, type ServerDatabase } from '../../test/helpers/database.js';

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function createBenchDatabase(serverUrl = DEFAULT_SERVER_URL): Promise<ServerDatabase> {
  return createServerDatabase(serverUrl, 'ase_bench');
}

/** A database an earlier run kept (--keep), used again as it is: never dropped. */
export function keptBenchDatabase(serverUrl: string, name: string): ServerDatabase {
  return { url: databaseUrl(serverUrl, name), name, drop: async () => undefined };
}
