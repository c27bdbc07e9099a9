CREATE TABLE "consumption_facts" (
	"transaction_id" text PRIMARY KEY NOT NULL,
	"customer_consented" boolean NOT NULL,
	"sample_content_provided" boolean NOT NULL,
	"delivery_status" text NOT NULL,
	"consumption_percentage" integer,
	"refund_preference" text,
	"updated_by" text,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consumption_requests" (
	"notification_id" text PRIMARY KEY NOT NULL,
	"transaction_id" text NOT NULL,
	"environment" text,
	"requested_at" timestamp with time zone NOT NULL,
	"deadline" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"reason" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"leased_until" timestamp with time zone,
	"last_error" text,
	"sent_at" timestamp with time zone,
	"sent" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "renewal_extensions" (
	"request_id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"target" text NOT NULL,
	"storefronts" jsonb,
	"days" integer NOT NULL,
	"reason" integer NOT NULL,
	"environment" text NOT NULL,
	"requested_by" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"answer" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "consumption_requests_due_idx" ON "consumption_requests" USING btree ("next_attempt_at") WHERE "consumption_requests"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "consumption_requests_transaction_id_idx" ON "consumption_requests" USING btree ("transaction_id");--> statement-breakpoint
CREATE INDEX "consumption_requests_status_idx" ON "consumption_requests" USING btree ("status","requested_at");--> statement-breakpoint
CREATE INDEX "renewal_extensions_target_idx" ON "renewal_extensions" USING btree ("target");