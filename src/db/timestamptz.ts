import pg from 'pg';

// node-postgres parses every timestamptz with a general regular-expression parser; on
// the entitlement read (dozens of timestamps per answer) that was the largest single
// cost in the service. PostgreSQL's ISO output has one fixed shape,
// `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]`, read here by character codes. Anything
// else (infinity, BC dates, years outside 1000–9999) goes to node-postgres's parser.

const TIMESTAMPTZ_OID = 1184;
const fallback = pg.types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => Date;

const ZERO = 48;
const DASH = 45;
const SPACE = 32;
const COLON = 58;
const DOT = 46;
const PLUS = 43;

/** The number written by the digits in [from, to), or -1 if any is not a digit. */
function digitsAt(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const digit = text.charCodeAt(i) - ZERO;
    if (!(digit >= 0 && digit <= 9)) return -1; // also past the end (NaN)
    value = value * 10 + digit;
  }
  return value;
}

export function parseTimestamptz(text: string): Date {
  const fast = fastParse(text);
  return fast === null ? fallback(text) : new Date(fast);
}

/** Milliseconds since the epoch, or null when the text is not in the common shape. */
function fastParse(text: string): number | null {
  if (text.length < 22 || text.charCodeAt(4) !== DASH || text.charCodeAt(7) !== DASH || text.charCodeAt(10) !== SPACE) return null;
  if (text.charCodeAt(13) !== COLON || text.charCodeAt(16) !== COLON) return null;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 7);
  const day = digitsAt(text, 8, 10);
  const hour = digitsAt(text, 11, 13);
  const minute = digitsAt(text, 14, 16);
  const second = digitsAt(text, 17, 19);
  if (year < 1000 || month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return null;
  }

  let i = 19;
  let millis = 0;
  if (text.charCodeAt(i) === DOT) {
    const start = i + 1;
    i = start;
    while (i < text.length && text.charCodeAt(i) - ZERO >= 0 && text.charCodeAt(i) - ZERO <= 9) i++;
    if (i === start) return null;
    // Milliseconds are the first three digits; finer digits are dropped, as Date keeps none.
    for (let k = 0; k < 3; k++) millis = millis * 10 + (start + k < i ? text.charCodeAt(start + k) - ZERO : 0);
  }

  const sign = text.charCodeAt(i);
  if (sign !== PLUS && sign !== DASH) return null;
  let offset = digitsAt(text, i + 1, i + 3) * 3600;
  i += 3;
  for (const unit of [60, 1]) {
    if (i === text.length) break;
    if (text.charCodeAt(i) !== COLON) return null;
    const part = digitsAt(text, i + 1, i + 3);
    if (part < 0) return null;
    offset += part * unit;
    i += 3;
  }
  if (i !== text.length || offset < 0) return null;
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  return local - (sign === PLUS ? offset : -offset) * 1000;
}

/** Type parsers for queries that want fast timestamps and node-postgres's defaults otherwise. */
export const fastTimestampTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === TIMESTAMPTZ_OID && format !== 'binary') return parseTimestamptz;
    return pg.types.getTypeParser(oid, format);
  },
};
