-- 0008: emissions. A series' values give several lines (Scope 2 location-
-- and market-based, Scope 3 category 3 losses and well-to-tank, Scope 1 for
-- gas), each citing the factor it applied. Lines are kept per series, UTC
-- day and line: a day's half-hours share their factor, so the line is the
-- factor times the day's summed quantity (exact to the last bits), and
-- storage grows by a tenth of the activity's rather than five times it.
-- The values behind a line are the series' values of that day.

-- Each factor as applied: a published factor under one line, edition
-- choice and (for market-based lines) instrument. Lines point here.
CREATE TABLE emission_factors (
    id INTEGER PRIMARY KEY,
    factor_id TEXT NOT NULL,
    line TEXT NOT NULL,
    scope INTEGER NOT NULL CHECK (scope IN (1, 2, 3)),
    category TEXT NOT NULL,
    method TEXT NOT NULL,
    reference TEXT NOT NULL,
    edition TEXT NOT NULL,
    edition_choice TEXT NOT NULL,
    unit TEXT NOT NULL,
    -- kg CO2e per unit, and the gases' parts where published.
    factor REAL NOT NULL,
    co2 REAL,
    ch4 REAL,
    n2o REAL,
    UNIQUE (factor_id, line, edition_choice, factor)
);

-- One line of one series' day: `day` is the UTC day's start (unix s),
-- `quantity` its values summed, `value_count` how many.
CREATE TABLE emission_lines (
    stream INTEGER NOT NULL,
    day INTEGER NOT NULL,
    line TEXT NOT NULL,
    factor INTEGER NOT NULL REFERENCES emission_factors (id),
    quantity REAL NOT NULL,
    value_count INTEGER NOT NULL,
    kgco2e REAL NOT NULL,
    -- What it was before a recomputation changed it.
    previous_kgco2e REAL,
    restated_at TEXT,
    PRIMARY KEY (stream, day, line)
) WITHOUT ROWID;
