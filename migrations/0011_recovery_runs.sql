CREATE TABLE "recovery_runs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"trigger" text NOT NULL,
	"outcome" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	"window_start" timestamp with time zone,
	"window_end" timestamp with time zone,
	"only_failures" boolean NOT NULL,
	"fetched" integer NOT NULL,
	"applied" integer NOT NULL,
	"duplicate" integer NOT NULL,
	"rejected" integer NOT NULL,
	"error_code" text,
	"error_message" text
);
--> statement-breakpoint
CREATE INDEX "recovery_runs_started_at_idx" ON "recovery_runs" USING btree ("started_at");