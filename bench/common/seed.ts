// Bulk seeding for the entitlement and analytics benchmarks: everything is generated inside
// PostgreSQL (generate_series), so a million transactions take seconds rather than a million
// round trips. And the settings of the service started for the seeded data (seededServiceEnv).
import pg from 'pg';

/** The app the seeded purchases belong to: the service is configured for it. */
const SEEDED_APP = { bundleId: 'com.example.app', appAppleId: '1234567890' };

/**
 * The service's settings for the seeded data: its app, and no rate limit on the API keys
 * (the default, 60,000 per minute per key, would cap one key at 1,000 req/s). `env` adds
 * to or overrides these.
 */
export function seededServiceEnv(env: Record<string, string>): Record<string, string> {
  return { APPLE_BUNDLE_ID: SEEDED_APP.bundleId, APPLE_APP_APPLE_ID: SEEDED_APP.appAppleId, RATE_LIMIT_API_PER_MINUTE: '0', ...env };
}

export interface SeedShape {
  users: number;
  /** Renewals of each user's monthly subscription; plus one lifetime purchase, per user. */
  renewalsPerUser: number;
}

export async function seed(url: string, shape: SeedShape): Promise<{ transactions: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const params = [shape.users, shape.renewalsPerUser, SEEDED_APP.bundleId];
    await client.query('begin');
    await client.query(
      `insert into users (user_id, app_account_token)
         select 'u-' || g, md5('u-' || g)::uuid from generate_series(1, $1::int) g`,
      [shape.users],
    );
    await client.query(
      `insert into purchase_links (original_transaction_id, user_id, link_source)
         select p || g, 'u-' || g, 'transaction' from generate_series(1, $1::int) g, unnest(array['s-', 'l-']) p`,
      [shape.users],
    );
    // A monthly subscription per user, renewed $2 times; a third of them lapsed a month ago,
    // so answers mix active and expired. Every user also owns a lifetime purchase.
    await client.query(
      `insert into transactions (transaction_id, original_transaction_id, web_order_line_item_id, bundle_id, product_id,
         subscription_group_identifier, product_type, environment, purchase_date, original_purchase_date, expires_date,
         quantity, ownership_type, storefront, transaction_reason, signed_date, source)
       select 's-' || g || '-' || k, 's-' || g, 'w-' || g || '-' || k, $3::text, 'com.example.pro.monthly', 'g1',
         'Auto-Renewable Subscription', 'Production', d.start + (k * interval '30 days'), d.start,
         d.start + ((k + 1) * interval '30 days'), 1, 'PURCHASED', 'USA', case when k = 0 then 'PURCHASE' else 'RENEWAL' end,
         d.start + (k * interval '30 days') + interval '5 seconds', 'v2'
       from generate_series(1, $1::int) g
       cross join lateral (select now() - (($2::int - 1) * interval '30 days') - ((g % 3) * interval '30 days')
                                 - ((g % 1000) * interval '1 minute') as start) d
       cross join generate_series(0, $2::int - 1) k`,
      params,
    );
    await client.query(
      `insert into transactions (transaction_id, original_transaction_id, bundle_id, product_id, product_type, environment,
         purchase_date, original_purchase_date, quantity, ownership_type, storefront, transaction_reason, signed_date, source)
       select 'l-' || g, 'l-' || g, $2::text, 'com.example.lifetime', 'Non-Consumable', 'Production',
         now() - interval '400 days', now() - interval '400 days', 1, 'PURCHASED', 'USA', 'PURCHASE',
         now() - interval '400 days', 'v2'
       from generate_series(1, $1::int) g`,
      [shape.users, SEEDED_APP.bundleId],
    );
    await client.query(
      `insert into subscriptions (original_transaction_id, environment, product_id, auto_renew_product_id, auto_renew_status,
         is_in_billing_retry_period, renewal_signed_date, renewal_source, apple_status, status_signed_date)
       select 's-' || g, 'Production', 'com.example.pro.monthly', 'com.example.pro.monthly', 1, false,
         now() - interval '1 day', 'v2', 1, now() - interval '1 day'
       from generate_series(1, $1::int) g`,
      [shape.users],
    );
    await client.query('commit');
    await client.query('vacuum analyze');
    // The seed's pages written out now, not by a checkpoint in the middle of the first measured round.
    await client.query('checkpoint');
    const { rows } = await client.query<{ count: string }>('select count(*) from transactions');
    return { transactions: Number(rows[0]?.count ?? 0) };
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
