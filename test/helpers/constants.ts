// Values many test files share: the app the test service is configured for, its keys and
// the calendar the scenarios are laid out on. Defined once, so a file never restates them.

export const TEST_BUNDLE_ID = 'com.example.app';
export const TEST_APP_APPLE_ID = 1234567890;
export const TEST_API_KEY = 'test-api-key-0123456789';
export const TEST_ADMIN_KEY = 'test-admin-key-0123456789';
/** The App Store Connect shared secret V1 bodies carry as `password`. */
export const TEST_SHARED_SECRET = 'c0ffee0123456789abcdef0123456789';
/** The auto-renewable subscription most scenarios buy. */
export const TEST_MONTHLY_PRODUCT_ID = 'com.example.monthly';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const MONTH = 30 * DAY;
/** The start of the scenarios' calendar: period n of a subscription runs [T0 + n months, T0 + (n+1) months). */
export const T0 = Date.parse('2026-01-01T00:00:00Z');
