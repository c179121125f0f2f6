-- 0006: GB regional grid carbon intensity (NESO Carbon Intensity API), once
-- per region and half-hour for every customer in that region, and where
-- each region's refresh stands.

CREATE TABLE grid_intensity (
    -- Carbon Intensity API region id (1-17).
    region INTEGER NOT NULL,
    -- Unix seconds, UTC; the half-hour starting then.
    period_start INTEGER NOT NULL,
    -- gCO2/kWh. Regional figures are forecasts, revised until the period
    -- is past; `actual` is kept where the API gives one.
    forecast REAL,
    actual REAL,
    index_label TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (region, period_start)
) WITHOUT ROWID;

CREATE TABLE grid_regions (
    region INTEGER PRIMARY KEY,
    -- Fetched up to here (the last day is read again each refresh).
    cursor TEXT,
    last_error TEXT,
    updated_at TEXT NOT NULL
);
