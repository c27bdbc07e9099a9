import { describe, expect, it } from 'vitest';
import { formatBucket, formatDateTime, formatMilliunits, formatMoney, formatNumber, utcTitle } from '../../console/src/format.js';

describe('the console formats for people', () => {
  it('shows a date in the given time zone and the UTC instant on hover', () => {
    const iso = '2026-12-01T23:30:00.000Z';
    expect(formatDateTime(iso, { locale: 'en-US', timeZone: 'Europe/Berlin' })).toBe('Dec 2, 2026, 12:30 AM');
    expect(formatDateTime(iso, { locale: 'en-US', timeZone: 'America/Los_Angeles' })).toBe('Dec 1, 2026, 3:30 PM');
    expect(utcTitle(iso)).toBe('2026-12-01 23:30:00 UTC');
  });

  it('shows a dash for a missing date and the text itself for one it cannot read', () => {
    expect(formatDateTime(null)).toBe('—');
    expect(formatDateTime('not a date')).toBe('not a date');
    expect(utcTitle(null)).toBe('');
  });

  it('formats numbers and money per locale', () => {
    expect(formatNumber(1234567, { locale: 'en-US' })).toBe('1,234,567');
    expect(formatNumber(1234567, { locale: 'de-DE' })).toBe('1.234.567');
    expect(formatMoney(12.5, 'USD', { locale: 'en-US' })).toBe('$12.50');
    expect(formatMoney(12.5, 'EUR', { locale: 'de-DE' })).toBe('12,50\u00a0€');
  });

  it("reads Apple's milliunits and survives a currency code Intl does not know", () => {
    expect(formatMilliunits(9990, 'USD', { locale: 'en-US' })).toBe('$9.99');
    expect(formatMilliunits(9990, null, { locale: 'en-US' })).toBe('9.99');
    expect(formatMilliunits(null, 'USD')).toBe('—');
    expect(formatMoney(3, 'not-a-currency', { locale: 'en-US' })).toBe('3 not-a-currency');
  });

  it('labels chart buckets in UTC, whatever the browser’s zone', () => {
    expect(formatBucket('2026-12-01T00:00:00.000Z', 'day', { locale: 'en-US' })).toBe('Dec 1');
    expect(formatBucket('2026-12-01T00:00:00.000Z', 'month', { locale: 'en-US' })).toBe('Dec 2026');
  });
});
