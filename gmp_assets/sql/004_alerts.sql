-- Alerts raised by the rules on each forecast run (gmp_assets/alerts) and delivered by a sensor to the
-- configured sinks (webhook, e-mail). One open alert per project and kind: a re-run that finds the same
-- condition updates last_seen; a run that no longer finds it sets resolved_at. Idempotent.
CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE IF NOT EXISTS ml.alerts (
    alert_id            bigserial PRIMARY KEY,
    project_key         text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('eac_over_gmp', 'eac_jump', 'upper_bound_over_gmp',
                                                      'pending_mappings', 'model_changed', 'run_failed')),
    message             text NOT NULL,
    details             jsonb NOT NULL DEFAULT '{}'::jsonb,
    forecast_date       date,                       -- the forecast month that raised or last saw it
    first_seen          timestamptz NOT NULL DEFAULT now(),
    last_seen           timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    delivered_at        timestamptz,                -- every configured sink took it
    delivery_attempts   integer NOT NULL DEFAULT 0,
    last_delivery_error text
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open ON ml.alerts (project_key, kind) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS alerts_undelivered ON ml.alerts (alert_id) WHERE delivered_at IS NULL;
SELECT access.enable_project_rls('ml.alerts');
