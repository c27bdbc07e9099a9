import fc from 'fast-check';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseTimestamptz } from '../../src/db/timestamptz.js';
import { backendName, testDatabaseUrl } from '../helpers/database.js';
import { useTestDatabase } from '../helpers/fixtures.js';

const general = pg.types.getTypeParser(1184, 'text') as (text: string) => Date | number | null;
const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** A timestamp written the way PostgreSQL's ISO DateStyle writes it at a given UTC offset. */
function asPostgresWrites(ms: number, micros: number, offsetSeconds: number): string {
  const local = new Date(ms + offsetSeconds * 1000);
  const date = `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
  const time = `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  // PostgreSQL drops trailing zeros of the fraction, and the fraction when it is zero.
  const fraction = (local.getUTCMilliseconds() * 1000 + micros).toString().padStart(6, '0').replace(/0+$/, '');
  const abs = Math.abs(offsetSeconds);
  let zone = `${offsetSeconds < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600))}`;
  if (abs % 3600 !== 0) zone += `:${pad(Math.floor((abs % 3600) / 60))}`;
  if (abs % 60 !== 0) zone += `:${pad(abs % 60)}`;
  return `${date} ${time}${fraction ? `.${fraction}` : ''}${zone}`;
}

describe('parseTimestamptz', () => {
  it('reads every instant at every offset as node-postgres does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1000, 0, 2), max: Date.UTC(9999, 11, 30) }),
        fc.integer({ min: 0, max: 999 }),
        fc.oneof(fc.constant(0), fc.integer({ min: -15 * 3600, max: 15 * 3600 }), fc.constantFrom(19800, -34200, 3600 + 45 * 60)),
        (ms, micros, offset) => {
          const text = asPostgresWrites(ms, micros, offset);
          const parsed = parseTimestamptz(text);
          expect(parsed.getTime()).toBe(ms);
          expect(parsed.getTime()).toBe((general(text) as Date).getTime());
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('hands shapes outside the common one to node-postgres', () => {
    for (const text of ['infinity', '-infinity', '0044-03-15 12:00:00+00 BC', '10000-01-01 00:00:00+00', '0099-06-01 00:00:00+00', '2026-11-22 02:55:25.+00']) {
      expect(parseTimestamptz(text), text).toEqual(general(text));
    }
  });
});

describe(`timestamps read by queryArrays on ${backendName}`, () => {
  const empty = useTestDatabase({ migrate: false });

  it.each(['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham'])('come back as the instants written, in time zone %s', async (zone) => {
    const instants = [Date.UTC(2026, 10, 22, 2, 55, 25, 419), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2030, 2, 31, 1, 0, 0, 0)];
    const rows = await empty.database.handle.queryArrays({
      name: `timestamptz_round_trip_${zone.replace(/\W/g, '_')}`,
      text: `select set_config('TimeZone', $2, false), x from unnest($1::timestamptz[]) x`,
      values: [instants.map((ms) => new Date(ms).toISOString()), zone],
    });
    expect(rows.map((row) => (row[1] as Date).getTime())).toEqual(instants);
    if (testDatabaseUrl) await empty.database.handle.queryArrays({ name: 'timestamptz_reset_zone', text: 'reset timezone', values: [] });
  });
});

describe(`timestamps read by the driver's query on ${backendName}`, () => {
  const empty = useTestDatabase({ migrate: false });
  const instants = [Date.UTC(2026, 10, 22, 2, 55, 25, 419), Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2030, 2, 31, 1, 0, 0, 0)];
  // set_config(..., true) lasts for the statement's own transaction only: nothing to reset.
  const text = `select set_config('TimeZone', $2, true) as zone, x from unnest($1::timestamptz[]) x`;
  const values = (zone: string) => [instants.map((ms) => new Date(ms).toISOString()), zone];

  it.each(['UTC', 'Asia/Kolkata', 'America/St_Johns', 'Pacific/Chatham'])('come back as the instants written, in time zone %s', async (zone) => {
    const single = await empty.database.handle.db.driver.query<{ x: Date }>(text, values(zone));
    const inTransaction = await empty.database.handle.db.transaction((tx) => tx.driver.query<{ x: Date }>(text, values(zone)));
    for (const rows of [single, inTransaction]) {
      expect(rows.every((row) => row.x instanceof Date)).toBe(true);
      expect(rows.map((row) => row.x.getTime())).toEqual(instants);
    }
  });
});
