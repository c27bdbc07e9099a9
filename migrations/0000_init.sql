CREATE TABLE "notifications" (
	"id" text PRIMARY KEY NOT NULL,
	"version" text NOT NULL,
	"notification_type" text NOT NULL,
	"subtype" text,
	"environment" text,
	"original_transaction_id" text,
	"transaction_id" text,
	"signed_date" timestamp with time zone,
	"payload" text NOT NULL,
	"source" text NOT NULL,
	"outcome" text NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "purchase_link_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"original_transaction_id" text NOT NULL,
	"from_user_id" text,
	"to_user_id" text NOT NULL,
	"reason" text NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "purchase_links" (
	"original_transaction_id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"link_source" text NOT NULL,
	"linked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "service_state" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "subscriptions" (
	"original_transaction_id" text PRIMARY KEY NOT NULL,
	"environment" text,
	"product_id" text,
	"auto_renew_product_id" text,
	"auto_renew_status" integer,
	"expiration_intent" integer,
	"is_in_billing_retry_period" boolean,
	"grace_period_expires_date" timestamp with time zone,
	"renewal_date" timestamp with time zone,
	"price_increase_status" integer,
	"renewal_signed_date" timestamp with time zone,
	"renewal_source" text,
	"signed_renewal_info" text,
	"apple_status" integer,
	"status_signed_date" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "transactions" (
	"transaction_id" text PRIMARY KEY NOT NULL,
	"original_transaction_id" text NOT NULL,
	"web_order_line_item_id" text,
	"bundle_id" text NOT NULL,
	"product_id" text NOT NULL,
	"subscription_group_identifier" text,
	"product_type" text NOT NULL,
	"environment" text NOT NULL,
	"purchase_date" timestamp with time zone NOT NULL,
	"original_purchase_date" timestamp with time zone,
	"expires_date" timestamp with time zone,
	"quantity" integer,
	"ownership_type" text,
	"revocation_date" timestamp with time zone,
	"revocation_reason" integer,
	"is_upgraded" boolean DEFAULT false NOT NULL,
	"offer_type" integer,
	"offer_identifier" text,
	"app_account_token" uuid,
	"storefront" text,
	"transaction_reason" text,
	"price" bigint,
	"currency" text,
	"signed_date" timestamp with time zone NOT NULL,
	"source" text NOT NULL,
	"signed_transaction" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"user_id" text PRIMARY KEY NOT NULL,
	"app_account_token" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "purchase_links" ADD CONSTRAINT "purchase_links_user_id_users_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("user_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notifications_original_transaction_id_idx" ON "notifications" USING btree ("original_transaction_id");--> statement-breakpoint
CREATE INDEX "notifications_received_at_idx" ON "notifications" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "purchase_link_events_original_transaction_id_idx" ON "purchase_link_events" USING btree ("original_transaction_id");--> statement-breakpoint
CREATE INDEX "purchase_links_user_id_idx" ON "purchase_links" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "transactions_original_purchase_idx" ON "transactions" USING btree ("original_transaction_id","purchase_date" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_app_account_token_idx" ON "transactions" USING btree ("app_account_token");--> statement-breakpoint
CREATE UNIQUE INDEX "users_app_account_token_idx" ON "users" USING btree ("app_account_token");