-- Signed JWS are base64: PostgreSQL's compression saves next to nothing on them but costs
-- CPU on every write (about 40% of the database's CPU at webhook rates, see BENCHMARKS.md).
-- Kept out of line, uncompressed.
ALTER TABLE "notifications" ALTER COLUMN "payload" SET STORAGE EXTERNAL;--> statement-breakpoint
ALTER TABLE "transactions" ALTER COLUMN "signed_transaction" SET STORAGE EXTERNAL;--> statement-breakpoint
ALTER TABLE "subscriptions" ALTER COLUMN "signed_renewal_info" SET STORAGE EXTERNAL;
