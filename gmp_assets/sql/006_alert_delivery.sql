-- Delivery state of ml.alerts (gmp_assets/alerts/delivery.py): the sinks that took an alert, so a retry
-- after a partial failure sends only to those that did not, and when the next try is due (backoff).
-- A run_failed alert of a run without a project is kept under the key '(platform)': no project can have
-- that key (project keys are A-Z a-z 0-9 _ -), so row-level security shows it to the pipeline only.
-- Idempotent.
ALTER TABLE ml.alerts ADD COLUMN IF NOT EXISTS delivered_sinks text[] NOT NULL DEFAULT '{}';
ALTER TABLE ml.alerts ADD COLUMN IF NOT EXISTS next_delivery_at timestamptz;
