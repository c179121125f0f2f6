-- 0002: what connecting data sources needs beyond 0001.

-- One row per OAuth authorization request, consumed once by the callback.
-- The state itself is never stored, only its SHA-256; the PKCE verifier is
-- stored encrypted (same envelope as credentials, bound to the state hash).
CREATE TABLE oauth_states (
    state_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    -- Set when re-authorising an existing datasource.
    datasource_id TEXT,
    display_name TEXT NOT NULL,
    code_verifier TEXT,
    redirect_uri TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
);
CREATE INDEX oauth_states_expiry ON oauth_states (expires_at);

-- A refresh in progress holds this lease; others wait and re-read instead of
-- refreshing again (rotating refresh tokens are single-use).
ALTER TABLE datasources ADD COLUMN refresh_lock_until TEXT;
-- When the tokens were last obtained; the scheduled job keeps refresh tokens
-- alive for connections nobody used.
ALTER TABLE datasources ADD COLUMN tokens_refreshed_at TEXT;
CREATE INDEX datasources_oauth_refresh ON datasources (tokens_refreshed_at)
    WHERE auth_type = 'oauth2' AND deleted_at IS NULL AND status = 'active';
