CREATE TABLE "app_account_token_updates" (
	"original_transaction_id" text PRIMARY KEY NOT NULL,
	"environment" text NOT NULL,
	"user_id" text NOT NULL,
	"app_account_token" uuid NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "app_account_token_updates_due_idx" ON "app_account_token_updates" USING btree ("next_attempt_at") WHERE "app_account_token_updates"."status" = 'pending';