/**
 * The id of the one app of an installation without APPS_FILE (the APPLE_* settings), and
 * the app whose data every installation stored before APPS_FILE existed. An
 * APPS_FILE keeps it for that app to keep its data (README, "From APPLE_* to APPS_FILE").
 */
export const DEFAULT_APP_ID = 'default';
