CREATE TABLE "app_transactions" (
	"user_id" text PRIMARY KEY NOT NULL,
	"app_transaction_id" text,
	"bundle_id" text NOT NULL,
	"environment" text NOT NULL,
	"original_application_version" text,
	"original_purchase_date" timestamp with time zone,
	"signed_date" timestamp with time zone NOT NULL,
	"signed_app_transaction" text NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "grants" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"entitlement" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"expires_date" timestamp with time zone NOT NULL,
	"reason" text NOT NULL,
	"granted_by" text NOT NULL,
	"ended_at" timestamp with time zone,
	"ended_by" text,
	"end_reason" text,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "grants_user_id_idx" ON "grants" USING btree ("user_id");