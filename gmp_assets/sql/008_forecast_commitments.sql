-- Each trade forecast records the trade's commitments as of its forecast date (gmp_assets.forecasting):
-- committed (commitment lines and their approved change orders), pending change orders and the budget
-- not yet bought out, in cents. Forecasts written before these columns existed read 0. Idempotent.
ALTER TABLE ml.project_forecasts ADD COLUMN IF NOT EXISTS committed_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE ml.project_forecasts ADD COLUMN IF NOT EXISTS pending_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE ml.project_forecasts ADD COLUMN IF NOT EXISTS uncommitted_cents bigint NOT NULL DEFAULT 0;
