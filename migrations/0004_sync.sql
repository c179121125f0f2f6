-- 0004: the sync engine. Runs, streams with their positions, activity
-- provenance (raw page hash, restatements, conversions), and the sync state
-- of each datasource apart from its connection health.

-- sync_logs (0001) never held a row; runs replace it.
DROP TABLE sync_logs;

-- One attempt to pull data: queued by the cron, a user, a webhook or an upload.
CREATE TABLE sync_runs (
    id TEXT PRIMARY KEY,
    datasource_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    trigger TEXT NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'webhook', 'upload')),
    mode TEXT NOT NULL DEFAULT 'incremental' CHECK (mode IN ('incremental', 'full')),
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed')),
    -- What was asked for (NULL: decided per stream) and up to when.
    period_from TEXT,
    period_to TEXT NOT NULL,
    horizon_start TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    -- Failed slices in a row, and when the next attempt is due.
    attempts INTEGER NOT NULL DEFAULT 0,
    next_retry_at TEXT,
    error_class TEXT,
    error TEXT,
    -- A consumer working on the run holds this lease.
    lease_until TEXT,
    -- Uploads: the file's SHA-256, so the same file twice changes nothing.
    upload_sha256 TEXT
);
CREATE INDEX sync_runs_by_datasource ON sync_runs (datasource_id, queued_at);
-- At most one run in progress per datasource: a second is refused (409) or
-- coalesced, whoever asks.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (datasource_id)
    WHERE status IN ('queued', 'running');

-- What a datasource's account holds (meters, systems, tenants) and how far
-- each is stored. `position` is the current run's progress; it advances only
-- in the same transaction as the data it covers.
CREATE TABLE sync_streams (
    datasource_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    spec TEXT NOT NULL CHECK (json_valid(spec)),
    first_period TEXT,
    cursor TEXT,
    run_id TEXT,
    position TEXT,
    done INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (datasource_id, stream)
);

ALTER TABLE activity_data ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;
-- SHA-256 of the provider page this value came from (raw body in R2).
ALTER TABLE activity_data ADD COLUMN raw_sha256 TEXT;
-- A provider's correction keeps the value it replaced.
ALTER TABLE activity_data ADD COLUMN previous_quantity REAL;
ALTER TABLE activity_data ADD COLUMN restated_at TEXT;
-- How a converted quantity was derived (e.g. gas m3 to kWh), as JSON.
ALTER TABLE activity_data ADD COLUMN conversion TEXT;
CREATE INDEX activity_data_by_datasource ON activity_data (datasource_id, period_start);

-- Sync state, apart from connection health (`status`).
ALTER TABLE datasources ADD COLUMN sync_state TEXT NOT NULL DEFAULT 'idle'
    CHECK (sync_state IN ('idle', 'queued', 'running', 'rate_limited', 'paused'));
ALTER TABLE datasources ADD COLUMN sync_retry_at TEXT;
ALTER TABLE datasources ADD COLUMN sync_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE datasources ADD COLUMN sync_failing_since TEXT;
ALTER TABLE datasources ADD COLUMN paused_reason TEXT;
