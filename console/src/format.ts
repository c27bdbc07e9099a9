// Formatting for people: dates in the browser's time zone (UTC on hover), numbers and money
// per the browser's locale. Pure functions of their inputs (locale and time zone passed in
// where tests need them fixed).

export interface FormatOptions {
  locale?: string | undefined;
  timeZone?: string | undefined;
}

/** "2 Dec 2026, 10:00" in the given (default: the browser's) time zone; "—" for null. */
export function formatDateTime(iso: string | null | undefined, options: FormatOptions = {}): string {
  if (iso === null || iso === undefined) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(options.locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: options.timeZone }).format(date);
}

/** The hover text: the instant in UTC, to the second. */
export function utcTitle(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, '')} UTC`;
}

export function formatNumber(value: number, options: FormatOptions = {}): string {
  return new Intl.NumberFormat(options.locale).format(value);
}

/** Money from a decimal amount in a currency ("$12.34", "12,34 €" per locale). */
export function formatMoney(amount: number, currency: string, options: FormatOptions = {}): string {
  try {
    return new Intl.NumberFormat(options.locale, { style: 'currency', currency }).format(amount);
  } catch {
    // A currency code Intl does not know: the number and the code.
    return `${formatNumber(amount, options)} ${currency}`;
  }
}

/** Apple's prices are milliunits (9990 = 9.99). */
export function formatMilliunits(milliunits: number | null, currency: string | null, options: FormatOptions = {}): string {
  if (milliunits === null) return '—';
  return currency === null ? formatNumber(milliunits / 1000, options) : formatMoney(milliunits / 1000, currency, options);
}

/** The bucket label on a chart axis: a day, a week's first day or a month, in UTC (buckets are UTC). */
export function formatBucket(startIso: string, interval: 'day' | 'week' | 'month', options: FormatOptions = {}): string {
  const date = new Date(startIso);
  const format: Intl.DateTimeFormatOptions = interval === 'month' ? { year: 'numeric', month: 'short' } : { month: 'short', day: 'numeric' };
  return new Intl.DateTimeFormat(options.locale, { ...format, timeZone: 'UTC' }).format(date);
}
