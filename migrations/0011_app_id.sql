ALTER TABLE "analytics_daily" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "app_account_token_updates" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "app_transactions" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "consumption_facts" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "consumption_requests" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "event_deliveries" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "grants" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "notifications" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "purchase_analytics" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "purchase_link_events" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "purchase_links" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "renewal_extensions" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "user_answers" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "app_id" text DEFAULT 'default' NOT NULL;