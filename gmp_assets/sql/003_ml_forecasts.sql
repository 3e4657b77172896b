-- Forecasts and backtests written by the forecasting and training stages. Idempotent.
CREATE SCHEMA IF NOT EXISTS ml;

-- One row per project x trade x forecast date x model run; history is kept: a new forecast for
-- the same project, trade and forecast date supersedes the old one (is_current, superseded_by). A
-- forecast whose trade and month lost their data (a corrected file, a remapped division) is withdrawn:
-- is_current false with no superseded_by.
CREATE TABLE IF NOT EXISTS ml.project_forecasts (
    forecast_id             bigserial PRIMARY KEY,
    project_key             text NOT NULL,
    canonical_code          text NOT NULL,
    forecast_date           date NOT NULL,       -- end of the as-of month: only data dated on or before it
    horizon_months          integer NOT NULL CHECK (horizon_months >= 0),
    model_name              text NOT NULL,
    model_version           text NOT NULL,
    method                  text NOT NULL,
    bac_cents               bigint NOT NULL,
    actual_to_date_cents    bigint NOT NULL,
    predicted_eac_cents     bigint NOT NULL,
    predicted_etc_cents     bigint NOT NULL,
    confidence_lower_cents  bigint NOT NULL,
    confidence_upper_cents  bigint NOT NULL,
    confidence_level        numeric(3, 2) NOT NULL,
    eac_east_cents          bigint NOT NULL,
    eac_west_cents          bigint NOT NULL,
    is_current              boolean NOT NULL DEFAULT true,
    superseded_by           bigint REFERENCES ml.project_forecasts (forecast_id),
    created_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (confidence_lower_cents <= predicted_eac_cents AND predicted_eac_cents <= confidence_upper_cents),
    CHECK (predicted_eac_cents >= actual_to_date_cents),
    CHECK (predicted_etc_cents = predicted_eac_cents - actual_to_date_cents),
    CHECK (eac_east_cents + eac_west_cents = predicted_eac_cents)
);
-- The methods (forecasting/serving.py): the ladder's four, a finished trade's, an open trade's without a
-- budget, and a calibrated champion's (models/blending.py): `blend:<stage band>` where the model and the
-- formulas are weighed, `formula:<name>` where one formula carries the band's whole weight. Replaced only
-- when a method is missing from it (a database whose constraint lists fewer).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conname = 'project_forecasts_method_check'
                   AND conrelid = 'ml.project_forecasts'::regclass AND pg_get_constraintdef(oid) LIKE '%blend:%') THEN
        ALTER TABLE ml.project_forecasts DROP CONSTRAINT IF EXISTS project_forecasts_method_check;
        ALTER TABLE ml.project_forecasts ADD CONSTRAINT project_forecasts_method_check
            CHECK (method IN ('adapter', 'global', 'global_cold_start', 'heuristic', 'finished', 'no_budget')
                   OR method ~ '^blend:[a-z0-9_-]+$' OR method ~ '^formula:[a-z0-9_]+$');
    END IF;
END $$;
CREATE UNIQUE INDEX IF NOT EXISTS project_forecasts_one_current
    ON ml.project_forecasts (project_key, canonical_code, forecast_date) WHERE is_current;

-- One row per project x forecast date: its current trade forecasts summed (what the project will cost
-- against its GMP). The bounds are the trades' 80% bounds added up: the range of the total when its
-- trades err together, as they do through their project's overrun (docs/forecasting-method.md,
-- "Project totals"). A view, so it always adds up to the trade rows; security_invoker (PostgreSQL 15
-- or later), set in the statement itself so that no moment of re-creating it runs with its owner's
-- rights: the table's row-level security applies to whoever reads it. access.enable_project_rls
-- grants it to gmp_reader.
DO $$
BEGIN
    IF current_setting('server_version_num')::integer < 150000 THEN
        RAISE EXCEPTION 'PostgreSQL 15 or later is needed (this server runs %): ml.project_forecast_totals reads with its reader''s rights (security_invoker)',
            current_setting('server_version');
    END IF;
END $$;
CREATE OR REPLACE VIEW ml.project_forecast_totals WITH (security_invoker = true) AS
SELECT project_key,
       forecast_date,
       count(*)::integer                    AS trades,
       sum(bac_cents)::bigint               AS bac_cents,
       sum(actual_to_date_cents)::bigint    AS actual_to_date_cents,
       sum(predicted_eac_cents)::bigint     AS predicted_eac_cents,
       sum(predicted_etc_cents)::bigint     AS predicted_etc_cents,
       sum(confidence_lower_cents)::bigint  AS confidence_lower_cents,
       sum(confidence_upper_cents)::bigint  AS confidence_upper_cents,
       min(confidence_level)                AS confidence_level
FROM ml.project_forecasts
WHERE is_current
GROUP BY project_key, forecast_date;
SELECT access.enable_project_rls('ml.project_forecast_totals');

-- Backtest results: per stage (share of schedule elapsed) and method, over completed projects.
CREATE TABLE IF NOT EXISTS ml.backtest_results (
    run_id        text NOT NULL,
    stage         text NOT NULL,
    method        text NOT NULL,
    n             integer NOT NULL,
    mape          double precision,
    median_ape    double precision,
    coverage80    double precision,
    mean_width    double precision,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, stage, method)
);

-- Drift evaluations per project (the drift_report asset and the drift sensor write them).
CREATE TABLE IF NOT EXISTS ml.drift_reports (
    project_key      text NOT NULL,
    evaluated_at     timestamptz NOT NULL DEFAULT now(),
    drifted_share    double precision NOT NULL,
    retrain          boolean NOT NULL,
    recent_mape      double precision,
    baseline_mape    double precision,
    fine_tune        boolean NOT NULL,
    psi              jsonb NOT NULL,
    PRIMARY KEY (project_key, evaluated_at)
);
