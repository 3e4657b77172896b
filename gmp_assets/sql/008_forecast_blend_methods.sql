-- Forecast methods of a calibrated champion (models/blending.py): `blend:<stage band>` where the model
-- and the formulas are weighed, `formula:<name>` where one formula carries the band's whole weight.
-- Replaced only when the constraint does not list them yet (003 leaves a constraint naming no_budget).
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
