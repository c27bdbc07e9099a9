CREATE INDEX "transactions_purchase_date_idx" ON "transactions" USING btree ("purchase_date");--> statement-breakpoint
CREATE INDEX "transactions_expires_date_idx" ON "transactions" USING btree ("expires_date");--> statement-breakpoint
CREATE INDEX "transactions_revocation_date_idx" ON "transactions" USING btree ("revocation_date") WHERE "transactions"."revocation_date" is not null;--> statement-breakpoint
CREATE INDEX "transactions_trial_expires_idx" ON "transactions" USING btree ("expires_date") WHERE "transactions"."offer_type" = 1 and "transactions"."offer_discount_type" = 'FREE_TRIAL';