CREATE TABLE "analytics_daily" (
	"day" date NOT NULL,
	"environment" text NOT NULL,
	"product_id" text NOT NULL,
	"currency" text NOT NULL,
	"new_subscriptions" integer DEFAULT 0 NOT NULL,
	"renewals" integer DEFAULT 0 NOT NULL,
	"expirations" integer DEFAULT 0 NOT NULL,
	"refunds" integer DEFAULT 0 NOT NULL,
	"trial_conversions" integer DEFAULT 0 NOT NULL,
	"revenue" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "analytics_daily_day_environment_product_id_currency_pk" PRIMARY KEY("day","environment","product_id","currency")
);
--> statement-breakpoint
CREATE TABLE "purchase_analytics" (
	"original_transaction_id" text PRIMARY KEY NOT NULL,
	"environment" text NOT NULL,
	"product_id" text NOT NULL,
	"product_type" text NOT NULL,
	"purchase_date" timestamp with time zone NOT NULL,
	"expires_date" timestamp with time zone,
	"offer_type" integer,
	"offer_discount_type" text,
	"revoked" boolean NOT NULL,
	"grace_period_expires_date" timestamp with time zone,
	"active_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "purchase_analytics_active_until_idx" ON "purchase_analytics" USING btree ("active_until") WHERE not "purchase_analytics"."revoked";--> statement-breakpoint
CREATE INDEX "purchase_analytics_expires_date_idx" ON "purchase_analytics" USING btree ("expires_date") WHERE not "purchase_analytics"."revoked";--> statement-breakpoint
-- hand-written:
-- analytics_rebuild(): both analytics tables from the stored purchases, exactly as the
-- write side keeps them (src/purchases/analytics.model.ts; test/analytics checks both
-- agree). Run once here, so an upgraded installation answers right at once; the analytics
-- benchmark runs it after seeding. Text is ordered as JavaScript compares it (collate "C").
CREATE FUNCTION analytics_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM purchase_analytics;
  DELETE FROM analytics_daily;

  -- The current period: the latest transaction not upgraded (all upgraded: the latest).
  CREATE TEMPORARY TABLE analytics_current AS
    SELECT DISTINCT ON (original_transaction_id) *
    FROM transactions
    WHERE product_type <> 'Consumable'
    ORDER BY original_transaction_id, is_upgraded, purchase_date DESC, expires_date DESC NULLS FIRST, transaction_id COLLATE "C" DESC;

  INSERT INTO purchase_analytics (original_transaction_id, environment, product_id, product_type, purchase_date, expires_date,
    offer_type, offer_discount_type, revoked, grace_period_expires_date, active_until, updated_at)
  SELECT c.original_transaction_id, c.environment, c.product_id, c.product_type, c.purchase_date, c.expires_date,
    c.offer_type, c.offer_discount_type, r.revoked, g.grace,
    CASE WHEN r.revoked OR c.expires_date IS NULL THEN NULL ELSE greatest(c.expires_date, g.grace) END, now()
  FROM analytics_current c
  LEFT JOIN subscriptions s ON s.original_transaction_id = c.original_transaction_id
  CROSS JOIN LATERAL (SELECT
      c.revocation_date IS NOT NULL OR coalesce(s.apple_status = 5 AND s.status_signed_date >= c.purchase_date, false) AS revoked,
      CASE WHEN s.status_signed_date >= c.purchase_date - interval '1 day' THEN
        CASE s.apple_status WHEN 4 THEN 'retrying' WHEN 3 THEN 'retrying_without_grace' WHEN 1 THEN 'not_retrying' WHEN 2 THEN 'not_retrying' END
      END AS from_status,
      CASE WHEN s.product_id IS NOT NULL AND s.renewal_signed_date >= c.purchase_date - interval '1 day' THEN
        CASE WHEN s.is_in_billing_retry_period THEN 'retrying' WHEN NOT s.is_in_billing_retry_period THEN 'not_retrying' END
      END AS from_renewal) r
  CROSS JOIN LATERAL (SELECT CASE
      WHEN c.product_type = 'Auto-Renewable Subscription' AND (CASE
        WHEN r.from_status IS NULL THEN coalesce(r.from_renewal, 'not_retrying')
        WHEN r.from_renewal IS NULL THEN r.from_status
        WHEN s.renewal_signed_date > s.status_signed_date THEN r.from_renewal
        ELSE r.from_status END) = 'retrying'
      THEN s.grace_period_expires_date END AS grace) g;

  INSERT INTO analytics_daily (day, environment, product_id, currency, new_subscriptions, renewals, expirations, refunds, trial_conversions, revenue)
  SELECT day, environment, product_id, currency, sum(n), sum(r), sum(e), sum(f), sum(tc), sum(rev)
  FROM (
    SELECT (t.purchase_date AT TIME ZONE 'UTC')::date AS day, t.environment, t.product_id, coalesce(t.currency, '') AS currency,
      (t.auto AND t.first)::int AS n, (t.auto AND NOT t.first)::int AS r, 0 AS e, 0 AS f,
      (t.auto AND coalesce(t.previous_trial, false) AND NOT t.trial)::int AS tc,
      CASE WHEN t.price IS NOT NULL AND t.currency IS NOT NULL THEN t.price ELSE 0 END AS rev
    FROM (
      SELECT x.*, x.product_type = 'Auto-Renewable Subscription' AS auto,
        coalesce(x.transaction_id = x.original_transaction_id OR x.purchase_date = x.original_purchase_date, false) AS first,
        coalesce(x.offer_type = 1 AND x.offer_discount_type = 'FREE_TRIAL', false) AS trial,
        lag(coalesce(x.offer_type = 1 AND x.offer_discount_type = 'FREE_TRIAL', false)) OVER (
          PARTITION BY x.original_transaction_id, x.product_type = 'Auto-Renewable Subscription'
          ORDER BY x.purchase_date, x.transaction_id COLLATE "C") AS previous_trial
      FROM transactions x
    ) t
    UNION ALL
    SELECT (revocation_date AT TIME ZONE 'UTC')::date, environment, product_id, coalesce(currency, ''), 0, 0, 0, 1, 0, 0
    FROM transactions
    WHERE revocation_date IS NOT NULL AND revocation_type IS DISTINCT FROM 'FAMILY_REVOKE'
    UNION ALL
    SELECT (expires_date AT TIME ZONE 'UTC')::date, environment, product_id, coalesce(currency, ''), 0, 0, 1, 0, 0, 0
    FROM analytics_current
    WHERE product_type = 'Auto-Renewable Subscription' AND expires_date IS NOT NULL AND revocation_date IS NULL AND NOT is_upgraded
  ) contributions
  GROUP BY day, environment, product_id, currency
  HAVING sum(n) <> 0 OR sum(r) <> 0 OR sum(e) <> 0 OR sum(f) <> 0 OR sum(tc) <> 0 OR sum(rev) <> 0;

  DROP TABLE analytics_current;
END;
$$;
--> statement-breakpoint
SELECT analytics_rebuild();
