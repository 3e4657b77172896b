-- Commitments (subcontracts, purchase orders) and change orders: the input contract's optional
-- `commitments` and `change_orders` files, one row per file line. Idempotent: runs on every start.

CREATE TABLE IF NOT EXISTS raw.commitments (
    project_key            text NOT NULL,
    source_file            text NOT NULL,
    source_hash            text NOT NULL,
    line_number            integer NOT NULL,
    commitment_number      text NOT NULL,          -- several lines may share it (one per division or cost code)
    commitment_type        text,                   -- Subcontract / Purchase Order
    vendor                 text,
    division               text NOT NULL,
    cost_code              text,
    zone                   text NOT NULL CHECK (zone IN ('EAST', 'WEST', 'SHARED')),
    executed_date          date NOT NULL,          -- the line counts from this date on
    original_amount_cents  bigint NOT NULL CHECK (original_amount_cents > 0),
    status                 text NOT NULL CHECK (status IN ('Approved', 'Complete', 'Terminated', 'Void')),
    PRIMARY KEY (project_key, source_file, line_number)
);
CREATE INDEX IF NOT EXISTS commitments_project_number ON raw.commitments (project_key, commitment_number);

-- Change orders on a commitment (contract_number = its commitment_number) or on the owner's GMP
-- contract (contract_number = 'PRIME', division required).
CREATE TABLE IF NOT EXISTS raw.change_orders (
    project_key          text NOT NULL,
    source_file          text NOT NULL,
    source_hash          text NOT NULL,
    line_number          integer NOT NULL,
    contract_number      text NOT NULL,
    change_order_number  text NOT NULL,
    division             text,                     -- NULL on a commitment line: the commitment's division
    zone                 text CHECK (zone IN ('EAST', 'WEST', 'SHARED')),  -- NULL: the commitment's, or SHARED
    created_date         date NOT NULL,            -- pending exposure from then on
    decision_date        date,                     -- approved / rejected / voided on; NULL while pending
    status               text NOT NULL CHECK (status IN ('Pending', 'Approved', 'Rejected', 'Void')),
    amount_cents         bigint NOT NULL,          -- negative for a deductive change order
    PRIMARY KEY (project_key, source_file, line_number),
    CHECK (contract_number <> 'PRIME' OR division IS NOT NULL),
    CHECK (decision_date IS NULL OR decision_date >= created_date),
    CHECK ((status = 'Pending') = (decision_date IS NULL))
);
CREATE INDEX IF NOT EXISTS change_orders_project_contract ON raw.change_orders (project_key, contract_number);

-- raw.source_files and raw.previous_loads know the two new kinds of file.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_constraint
        WHERE conrelid = 'raw.source_files'::regclass AND conname = 'source_files_kind_check'
          AND pg_get_constraintdef(oid) LIKE '%change_orders%'
    ) THEN
        ALTER TABLE raw.source_files DROP CONSTRAINT IF EXISTS source_files_kind_check;
        ALTER TABLE raw.source_files ADD CONSTRAINT source_files_kind_check
            CHECK (kind IN ('project', 'gmp_breakdown', 'direct_costs', 'schedule', 'commitments', 'change_orders'));
    END IF;
    IF NOT EXISTS (
        SELECT FROM pg_constraint
        WHERE conrelid = 'raw.previous_loads'::regclass AND conname = 'previous_loads_table_name_check'
          AND pg_get_constraintdef(oid) LIKE '%raw.change_orders%'
    ) THEN
        ALTER TABLE raw.previous_loads DROP CONSTRAINT IF EXISTS previous_loads_table_name_check;
        ALTER TABLE raw.previous_loads ADD CONSTRAINT previous_loads_table_name_check
            CHECK (table_name IN ('raw.projects', 'raw.source_files', 'raw.gmp_breakdown', 'raw.direct_costs',
                                  'raw.schedule_progress', 'raw.rejected_rows', 'taxonomy.trade_mappings',
                                  'raw.project_quality', 'raw.commitments', 'raw.change_orders'));
    END IF;
END $$;

SELECT access.enable_project_rls('raw.commitments');
SELECT access.enable_project_rls('raw.change_orders');
