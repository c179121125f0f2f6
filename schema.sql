-- The full current schema: what applying every file in migrations/ to an empty
-- database gives (tests/schema.test.mjs proves it). Change the schema by adding
-- a migration, then mirror it here.

-- A user's connection to one provider of the integration catalog.
CREATE TABLE datasources (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    display_name TEXT NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    auth_type TEXT NOT NULL CHECK (auth_type IN
        ('oauth2', 'api_key', 'basic', 'file_upload', 'manual', 'webhook', 'local_network')),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
        ('pending', 'active', 'error', 'reauth_required', 'disabled')),
    last_error TEXT,
    settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    sync_frequency_minutes INTEGER NOT NULL DEFAULT 1440 CHECK (sync_frequency_minutes >= 15),
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Encrypted credential envelope; NULL once destroyed on disconnect.
    credentials BLOB,
    -- Bumped on every credential write: refreshes compare-and-swap on it.
    credentials_version INTEGER NOT NULL DEFAULT 0,
    credential_hint TEXT,
    token_expires_at TEXT,
    last_synced_at TEXT,
    next_sync_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    -- A refresh in progress holds this lease; others wait and re-read.
    refresh_lock_until TEXT,
    -- When the tokens were last obtained (OAuth).
    tokens_refreshed_at TEXT,
    -- The refresh lease's holder; writes after a refresh name it.
    refresh_lock_id TEXT,
    -- Transient refresh failures in a row, and when to try again.
    refresh_failures INTEGER NOT NULL DEFAULT 0,
    refresh_retry_at TEXT,
    -- Provider facts (tenants, meters, systems), written by probes and syncs only.
    provider_info TEXT CHECK (provider_info IS NULL OR json_valid(provider_info)),
    -- Sync state, apart from connection health (status).
    sync_state TEXT NOT NULL DEFAULT 'idle'
        CHECK (sync_state IN ('idle', 'queued', 'running', 'rate_limited', 'paused')),
    sync_retry_at TEXT,
    sync_failures INTEGER NOT NULL DEFAULT 0,
    sync_failing_since TEXT,
    paused_reason TEXT,
    -- The factor set and rules fingerprint its emission lines were computed with.
    emissions_basis TEXT,
    -- Its lines from this day (unix s) on need recomputing.
    emissions_dirty_from INTEGER
);
CREATE INDEX datasources_by_user ON datasources (user_id, created_at, id);
CREATE INDEX datasources_due ON datasources (next_sync_at)
    WHERE enabled = 1 AND deleted_at IS NULL;
CREATE INDEX datasources_oauth_refresh ON datasources (tokens_refreshed_at)
    WHERE auth_type = 'oauth2' AND deleted_at IS NULL AND status = 'active';

-- One row per OAuth authorization request, consumed once by the callback.
-- Only the state's SHA-256 is stored; the PKCE verifier is encrypted.
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    datasource_id TEXT,
    display_name TEXT NOT NULL,
    code_verifier TEXT,
    redirect_uri TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

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
    -- The continuation within the window at `position` (a page number).
    page_token TEXT,
    PRIMARY KEY (datasource_id, stream)
);

-- A run's discovery answers, kept until its streams begin (0007).
CREATE TABLE sync_discovery (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- Activity data (kWh, litres, GBP, tokens...) from any source, compact: what
-- is constant per series and per provider page is stored once (README,
-- "Storage growth"). The natural key (series, start, length) makes
-- re-fetching a period an update, never a duplicate.
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

-- GB regional grid carbon intensity, once per region and half-hour.
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

-- Who did what to which connection, including every credential decryption.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    datasource_id TEXT,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    request_id TEXT,
    detail TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_by_user ON audit_log (user_id, created_at);
CREATE INDEX audit_log_by_datasource ON audit_log (user_id, datasource_id, created_at);
CREATE INDEX audit_log_by_age ON audit_log (created_at);

-- Emissions (0008, 0009): each factor as applied, and the lines of each
-- activity value that cite one. Scope 0 is outside the inventory (avoided
-- emissions, reported apart).
CREATE TABLE emission_factors (
    id INTEGER PRIMARY KEY,
    factor_id TEXT NOT NULL,
    line TEXT NOT NULL,
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

-- Inbound webhooks (0010): users' endpoints, accepted deliveries once per
-- id, refused ones counted.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    -- The URL's unguessable part: /api/v1/webhooks/generic/{source}.
    source TEXT NOT NULL UNIQUE,
    datasource_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    -- Sealed `whsec_...` secrets (AES-GCM envelope, bound to the endpoint).
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_until TEXT,
    created_at TEXT NOT NULL,
    rotated_at TEXT,
    deleted_at TEXT
);
CREATE INDEX webhook_endpoints_by_datasource ON webhook_endpoints (datasource_id, created_at);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    -- generic, xero, octopus-energy, british-gas.
    source TEXT NOT NULL,
    -- What the delivery id is unique within: the endpoint, or '' for an
    -- app-wide source (Xero).
    scope TEXT NOT NULL,
    -- webhook-id, or for Xero the SHA-256 of the body.
    delivery_id TEXT NOT NULL,
    datasource_id TEXT,
    user_id TEXT,
    received_at TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    -- ingested, sync_queued, acknowledged (nothing to do).
    outcome TEXT NOT NULL,
    detail TEXT,
    run_id TEXT,
    UNIQUE (source, scope, delivery_id)
);
CREATE INDEX webhook_deliveries_by_datasource ON webhook_deliveries (datasource_id, received_at);

-- Refused deliveries, counted per source, scope, reason and UTC day.
CREATE TABLE webhook_refusals (
    source TEXT NOT NULL,
    scope TEXT NOT NULL,
    reason TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (source, scope, reason, day)
) WITHOUT ROWID;
