-- A project's raw rows (with its mappings and quality score) as they were before its latest load, kept apart until that load's canonical
-- build has run: a failed build puts them back (gmp_assets/ingest/rollback.py), so a project is
-- loaded whole or not at all. previous_load_marks has one row per project with a kept state, saying
-- whether anything of the project was loaded before (no rows in previous_loads then). Idempotent.
CREATE TABLE IF NOT EXISTS raw.previous_load_marks (
    project_key  text PRIMARY KEY,
    had_rows     boolean NOT NULL,
    saved_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS raw.previous_loads (
    project_key  text NOT NULL,
    table_name   text NOT NULL CHECK (table_name IN ('raw.projects', 'raw.source_files', 'raw.gmp_breakdown',
                                                     'raw.direct_costs', 'raw.schedule_progress', 'raw.rejected_rows',
                                                     'taxonomy.trade_mappings', 'raw.project_quality')),
    row_data     jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS previous_loads_project ON raw.previous_loads (project_key, table_name);

SELECT access.enable_project_rls('raw.previous_load_marks');
SELECT access.enable_project_rls('raw.previous_loads');
