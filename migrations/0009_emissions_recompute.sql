-- 0009: emissions outside the inventory (avoided emissions, scope 0) and
-- recomputation. Lines are derived data: both tables are rebuilt empty and
-- every datasource's lines are recomputed by the cron (its
-- `emissions_basis` starts NULL), so nothing is lost.

DROP TABLE emission_lines;
DROP TABLE emission_factors;

CREATE TABLE emission_factors (
    id INTEGER PRIMARY KEY,
    factor_id TEXT NOT NULL,
    line TEXT NOT NULL,
    -- 0: outside the inventory (avoided emissions), reported apart.
    scope INTEGER NOT NULL CHECK (scope IN (0, 1, 2, 3)),
    category TEXT NOT NULL,
    method TEXT NOT NULL,
    reference TEXT NOT NULL,
    edition TEXT NOT NULL,
    edition_choice TEXT NOT NULL,
    unit TEXT NOT NULL,
    factor REAL NOT NULL,
    co2 REAL,
    ch4 REAL,
    n2o REAL,
    UNIQUE (factor_id, line, edition_choice, factor)
);

CREATE TABLE emission_lines (
    stream INTEGER NOT NULL,
    day INTEGER NOT NULL,
    line TEXT NOT NULL,
    factor INTEGER NOT NULL REFERENCES emission_factors (id),
    quantity REAL NOT NULL,
    value_count INTEGER NOT NULL,
    kgco2e REAL NOT NULL,
    previous_kgco2e REAL,
    restated_at TEXT,
    PRIMARY KEY (stream, day, line)
) WITHOUT ROWID;

-- The factor set and rules (fingerprint) a datasource's lines were last
-- computed with; a deploy that changes them recomputes every datasource.
ALTER TABLE datasources ADD COLUMN emissions_basis TEXT;
-- Lines from this day (unix s) on need recomputing (new grid intensity).
ALTER TABLE datasources ADD COLUMN emissions_dirty_from INTEGER;
