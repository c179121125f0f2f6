-- 0003: hardening connections (refresh leases with an owner, refresh
-- backoff, provider facts apart from user settings, audit reads by index).

-- The holder of the refresh lease: every write that follows a refresh
-- (release, reauth) names it, so a caller whose lease lapsed cannot undo
-- another's work.
ALTER TABLE datasources ADD COLUMN refresh_lock_id TEXT;
-- Refresh failures in a row (transient ones: invalid_grant goes straight to
-- reauth_required) and when the keep-alive job may try again.
ALTER TABLE datasources ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE datasources ADD COLUMN refresh_retry_at TEXT;
-- What the provider said about the account (tenants, meter points, systems):
-- written only by probes and syncs, never by the user.
ALTER TABLE datasources ADD COLUMN provider_info TEXT CHECK (provider_info IS NULL OR json_valid(provider_info));

-- Provider facts used to live under settings.provider.
UPDATE datasources
SET provider_info = json_extract(settings, '$.provider'),
    settings = json_remove(settings, '$.provider')
WHERE json_type(settings, '$.provider') IS NOT NULL;

-- GET /datasources/{id}/audit filters by user and datasource, newest first.
CREATE INDEX audit_log_by_datasource ON audit_log (user_id, datasource_id, created_at);
-- The retention purge walks by age.
CREATE INDEX audit_log_by_age ON audit_log (created_at);
