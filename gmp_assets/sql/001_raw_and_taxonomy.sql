-- Tables the Python ingestion and taxonomy stages write; dbt reads them as sources.
-- Idempotent: safe to run on every start.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS taxonomy;

-- One row per project folder (project.json).
CREATE TABLE IF NOT EXISTS raw.projects (
    project_key          text PRIMARY KEY CHECK (project_key ~ '^[A-Za-z0-9_-]{1,40}$'),
    name                 text NOT NULL,
    total_square_feet    integer NOT NULL CHECK (total_square_feet >= 1000),
    project_type         text NOT NULL CHECK (project_type IN ('commercial', 'residential', 'mixed')),
    region               text NOT NULL,
    owner                text NOT NULL,
    start_date           date NOT NULL,
    planned_finish_date  date NOT NULL CHECK (planned_finish_date > start_date),
    status               text NOT NULL CHECK (status IN ('active', 'completed')),
    is_training_eligible boolean NOT NULL DEFAULT true,
    source_file          text NOT NULL,
    source_hash          text NOT NULL,
    loaded_at            timestamptz NOT NULL DEFAULT now()
);

-- Every file ingested, with its counts: rows_in = rows_loaded + rows_rejected.
CREATE TABLE IF NOT EXISTS raw.source_files (
    project_key   text NOT NULL,
    source_file   text NOT NULL,          -- path relative to the project folder
    kind          text NOT NULL CHECK (kind IN ('project', 'gmp_breakdown', 'direct_costs', 'schedule')),
    source_hash   text NOT NULL,          -- sha256 of the file's bytes
    rows_in       integer NOT NULL,
    rows_loaded   integer NOT NULL,
    rows_rejected integer NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_key, source_file),
    CHECK (rows_in = rows_loaded + rows_rejected)
);

CREATE TABLE IF NOT EXISTS raw.gmp_breakdown (
    project_key             text NOT NULL,
    source_file             text NOT NULL,
    source_hash             text NOT NULL,
    line_number             integer NOT NULL,
    division                text NOT NULL,
    cost_code               text,
    description             text,
    zone                    text NOT NULL CHECK (zone IN ('EAST', 'WEST', 'SHARED')),
    original_amount_cents   bigint NOT NULL,
    approved_changes_cents  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_key, source_file, line_number)
);

CREATE TABLE IF NOT EXISTS raw.direct_costs (
    project_key     text NOT NULL,
    source_file     text NOT NULL,
    source_hash     text NOT NULL,
    line_number     integer NOT NULL,
    cost_date       date NOT NULL,
    division        text NOT NULL,
    cost_code       text,
    vendor          text,
    cost_type       text,
    invoice_number  text,
    description     text,
    zone            text NOT NULL CHECK (zone IN ('EAST', 'WEST', 'SHARED')),
    amount_cents    bigint NOT NULL,
    PRIMARY KEY (project_key, source_file, line_number)
);
CREATE INDEX IF NOT EXISTS direct_costs_project_date ON raw.direct_costs (project_key, cost_date);

-- Schedule progress: one row per activity per data date (CSV line, or XER task).
CREATE TABLE IF NOT EXISTS raw.schedule_progress (
    project_key      text NOT NULL,
    source_file      text NOT NULL,
    source_hash      text NOT NULL,
    line_number      integer NOT NULL,    -- physical line in the file (CSV row, or the XER task's %R line)
    data_date        date NOT NULL,
    activity_id      text NOT NULL,
    activity_name    text,
    division         text NOT NULL,
    planned_start    date,
    planned_finish   date,
    percent_complete numeric(6, 2) NOT NULL CHECK (percent_complete BETWEEN 0 AND 100),
    PRIMARY KEY (project_key, source_file, line_number)
);

-- Rows that could not be loaded, kept untouched with the reason.
CREATE TABLE IF NOT EXISTS raw.rejected_rows (
    project_key  text NOT NULL,
    source_file  text NOT NULL,
    source_hash  text NOT NULL,
    line_number  integer NOT NULL,
    column_name  text,
    reason       text NOT NULL,
    raw_values   jsonb NOT NULL,
    PRIMARY KEY (project_key, source_file, line_number)
);

-- Data quality score per project (0-1) and its parts.
CREATE TABLE IF NOT EXISTS raw.project_quality (
    project_key  text PRIMARY KEY,
    score        numeric(5, 4) NOT NULL CHECK (score BETWEEN 0 AND 1),
    components   jsonb NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now()
);

-- Raw division name -> canonical CSI division, per project.
CREATE TABLE IF NOT EXISTS taxonomy.trade_mappings (
    project_key        text NOT NULL,
    raw_division_name  text NOT NULL,
    canonical_code     text,               -- NULL while pending review
    method             text NOT NULL CHECK (method IN ('manual', 'csi_prefix', 'fuzzy', 'pending')),
    confidence         numeric(4, 3) NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    candidates         jsonb NOT NULL DEFAULT '[]',   -- [{"code", "name", "score"}] best five
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_key, raw_division_name),
    CHECK ((method = 'pending') = (canonical_code IS NULL))
);

-- Confirmed by a person; survives re-mapping and wins over every automatic method.
CREATE TABLE IF NOT EXISTS taxonomy.confirmed_mappings (
    project_key        text NOT NULL,
    raw_division_name  text NOT NULL,
    canonical_code     text NOT NULL,
    confirmed_by       text NOT NULL DEFAULT current_user,
    confirmed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_key, raw_division_name)
);
