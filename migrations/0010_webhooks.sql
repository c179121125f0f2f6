-- 0010: inbound webhooks. Endpoints a user creates for their own systems
-- (Standard Webhooks signed; the secret sealed like credentials, the one
-- it replaced still valid until `previous_until`), and every accepted
-- delivery, once per id: a repeated id is acknowledged, not processed.
-- Refused deliveries store nothing but a count.

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
