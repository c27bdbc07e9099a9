DROP INDEX "event_deliveries_pending_order_idx";--> statement-breakpoint
ALTER TABLE "event_deliveries" ADD COLUMN "held_back" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "event_deliveries_ready_order_idx" ON "event_deliveries" USING btree ("url","event_seq") WHERE "event_deliveries"."status" = 'pending' and not "event_deliveries"."held_back";--> statement-breakpoint
CREATE INDEX "event_deliveries_held_back_idx" ON "event_deliveries" USING btree ("url","user_id","event_seq") WHERE "event_deliveries"."status" = 'pending' and "event_deliveries"."held_back";