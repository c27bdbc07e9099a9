ALTER TABLE "subscriptions" ADD COLUMN "renewal_signed_in_notification" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "signed_in_notification" text;