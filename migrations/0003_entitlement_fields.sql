ALTER TABLE "subscriptions" ADD COLUMN "renewal_price" bigint;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_currency" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_offer_type" integer;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_offer_identifier" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_offer_discount_type" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "renewal_offer_period" text;--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "eligible_win_back_offer_ids" text[];--> statement-breakpoint
ALTER TABLE "subscriptions" ADD COLUMN "app_transaction_id" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "offer_discount_type" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "offer_period" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "revocation_type" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "revocation_percentage" integer;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "app_transaction_id" text;