-- 0005: compact activity storage, and uploads and manual readings.
--
-- 0004 stored every half-hour as a ~700-byte row (text ids, timestamps and
-- hashes repeated on every row, four indexes). At three meters per customer
-- that fills a 10 GB D1 database at about 250 customers. Now what is
-- constant per series lives once in `activity_streams`, what is constant per
-- provider page once in `raw_pages`, tariff codes once in `tariffs`, and an
-- interval is a WITHOUT ROWID row keyed (stream, start, seconds), with
-- integer times: about 45 bytes, one row written per interval, and every
-- query a primary-key range.
-- (README, "Storage growth", has the measurements.)
--
-- An activity's natural key gains `detail` (the fuel, travel mode,
-- refrigerant, spend category or AI model): diesel and petrol for one van in
-- one month are two series.

PRAGMA defer_foreign_keys = true;

-- One series: a meter's import, a van's diesel, a supplier's spend in GBP.
CREATE TABLE activity_streams (
    id INTEGER PRIMARY KEY,
    datasource_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    -- Meter, site, vehicle, account ('' when none).
    source_ref TEXT NOT NULL DEFAULT '',
    -- What the type alone does not say ('' when nothing).
    detail TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL,
    -- GB Carbon Intensity region (1-17), when known.
    region TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (datasource_id, activity_type, source_ref, detail, unit)
);
CREATE INDEX activity_streams_by_user ON activity_streams (user_id);

-- Tariff codes (market-based Scope 2 evidence), stored once: a code on
-- every half-hour was a third of a value's bytes.
CREATE TABLE tariffs (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE
);

-- The bytes values came from: a provider page, an uploaded file, a readings
-- request (kept in R2 under their SHA-256), and the run that first sent them.
CREATE TABLE raw_pages (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One value of one series over [period_start, period_start + seconds).
CREATE TABLE activity (
    stream INTEGER NOT NULL,
    -- Unix seconds, UTC.
    period_start INTEGER NOT NULL,
    seconds INTEGER NOT NULL CHECK (seconds > 0),
    quantity REAL NOT NULL,
    estimated INTEGER NOT NULL DEFAULT 0,
    -- raw_pages.id: every value traces to the bytes it was read from.
    page INTEGER NOT NULL,
    -- tariffs.id of the tariff in force, when known.
    tariff INTEGER,
    -- How a converted quantity was derived (e.g. gas m3 to kWh), as JSON.
    conversion TEXT,
    -- A correction keeps the value it replaced.
    previous_quantity REAL,
    restated_at TEXT,
    PRIMARY KEY (stream, period_start, seconds)
) WITHOUT ROWID;

INSERT INTO raw_pages (sha256, run_id, created_at)
SELECT raw_sha256, MIN(COALESCE(sync_log_id, '')), MIN(created_at)
FROM activity_data WHERE raw_sha256 IS NOT NULL GROUP BY raw_sha256;

INSERT INTO activity_streams (datasource_id, user_id, activity_type, source_ref, detail, unit, region, created_at)
SELECT datasource_id, MIN(user_id), activity_type, source_ref, '', unit, MAX(region), MIN(created_at)
FROM activity_data GROUP BY datasource_id, activity_type, source_ref, unit;

INSERT INTO tariffs (code)
SELECT DISTINCT tariff FROM activity_data WHERE tariff IS NOT NULL;

INSERT INTO activity (stream, period_start, seconds, quantity, estimated, page, tariff, conversion,
    previous_quantity, restated_at)
SELECT s.id, unixepoch(a.period_start), unixepoch(a.period_end) - unixepoch(a.period_start), a.quantity,
    a.estimated, p.id, (SELECT id FROM tariffs WHERE code = a.tariff), a.conversion, a.previous_quantity,
    a.restated_at
FROM activity_data a
JOIN activity_streams s ON s.datasource_id = a.datasource_id AND s.activity_type = a.activity_type
    AND s.source_ref = a.source_ref AND s.unit = a.unit
JOIN raw_pages p ON p.sha256 = a.raw_sha256;

-- Nothing was ever written to emissions; the emissions engine defines its
-- own tables over streams (per interval rows would double storage again).
DROP TABLE emissions;
DROP TABLE activity_data;

-- Activity as one readable row per value, for people and tests reading the
-- database (the API queries the tables, on their keys).
CREATE VIEW activity_data AS
SELECT s.datasource_id, s.user_id, s.activity_type, s.detail, s.source_ref, s.unit, s.region,
    strftime('%Y-%m-%dT%H:%M:%SZ', a.period_start, 'unixepoch') AS period_start,
    strftime('%Y-%m-%dT%H:%M:%SZ', a.period_start + a.seconds, 'unixepoch') AS period_end,
    a.quantity, a.estimated, t.code AS tariff, a.conversion, a.previous_quantity, a.restated_at,
    p.sha256 AS raw_sha256, p.run_id
FROM activity a JOIN activity_streams s ON s.id = a.stream JOIN raw_pages p ON p.id = a.page
LEFT JOIN tariffs t ON t.id = a.tariff;
