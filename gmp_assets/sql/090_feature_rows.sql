-- Offline feature store: one row per project x level-1 trade x month (gmp_assets.features).
-- Generated from gmp_assets/features/schema.py (FEATURE_ROWS_DDL): a unit test checks they agree.
CREATE SCHEMA IF NOT EXISTS ml;

CREATE TABLE IF NOT EXISTS ml.feature_rows (
    project_key text NOT NULL,
    canonical_code text NOT NULL,
    month_start date NOT NULL,
    feature_schema_version text NOT NULL,
    cost_per_sf double precision NOT NULL,
    cumulative_cost_per_sf double precision NOT NULL,
    budget_per_sf double precision NOT NULL,
    committed_per_sf double precision NOT NULL,
    pending_per_sf double precision NOT NULL,
    uncommitted_per_sf double precision NOT NULL,
    bought_out_share double precision NOT NULL,
    has_commitments double precision NOT NULL,
    pct_budget_spent double precision NOT NULL,
    schedule_elapsed double precision NOT NULL,
    pct_complete double precision NOT NULL,
    has_schedule double precision NOT NULL,
    month_sin double precision NOT NULL,
    month_cos double precision NOT NULL,
    quarter_sin double precision NOT NULL,
    quarter_cos double precision NOT NULL,
    project_month double precision NOT NULL,
    trade_month double precision NOT NULL,
    log_square_feet double precision NOT NULL,
    planned_duration double precision NOT NULL,
    type_commercial double precision NOT NULL,
    type_residential double precision NOT NULL,
    type_mixed double precision NOT NULL,
    trade_gmp_share double precision NOT NULL,
    typical_gmp_share double precision NOT NULL,
    typical_start_share double precision NOT NULL,
    typical_finish_share double precision NOT NULL,
    expected_progress double precision NOT NULL,
    east_share double precision NOT NULL,
    west_share double precision NOT NULL,
    cost_per_sf_mean_3m double precision NOT NULL,
    cost_per_sf_std_3m double precision NOT NULL,
    cost_per_sf_lag_1 double precision NOT NULL,
    cost_per_sf_lag_2 double precision NOT NULL,
    cost_per_sf_lag_3 double precision NOT NULL,
    bac_cents bigint NOT NULL,
    total_bac_cents bigint NOT NULL,
    monthly_cost_cents bigint NOT NULL,
    cumulative_cost_cents bigint NOT NULL,
    reported_pct_complete double precision,
    schedule_elapsed_share double precision NOT NULL,
    months_of_data integer NOT NULL,
    committed_cents bigint NOT NULL,
    pending_cents bigint NOT NULL,
    uncommitted_cents bigint NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_key, canonical_code, month_start)
);

ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS pending_per_sf double precision NOT NULL DEFAULT 0;
ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS uncommitted_per_sf double precision NOT NULL DEFAULT 0;
ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS bought_out_share double precision NOT NULL DEFAULT 0;
ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS has_commitments double precision NOT NULL DEFAULT 0;
ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS committed_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS pending_cents bigint NOT NULL DEFAULT 0;
ALTER TABLE ml.feature_rows ADD COLUMN IF NOT EXISTS uncommitted_cents bigint NOT NULL DEFAULT 0;
