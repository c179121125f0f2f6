//! Datasource rows. Every read and write of a user's row is scoped by
//! `user_id`: another user's id behaves exactly like a missing one.

use super::Db;
use carbon_core::datasources::Record;
use worker::wasm_bindgen::JsValue;

use super::audit::{self, audited_write, Entry};
use super::{int, opt_text, text};

/// The stored columns, as a literal (shared by [`COLUMNS`] and [`VIEW_COLUMNS`]).
macro_rules! columns {
    () => {
        "id, user_id, integration_id, display_name, auth_type, status, last_error, settings, \
    sync_frequency_minutes, enabled, credentials, credentials_version, credential_hint, token_expires_at, \
    last_synced_at, created_at, updated_at, provider_info, refresh_failures, next_sync_at, sync_state, \
    sync_retry_at, sync_failures, sync_failing_since, paused_reason"
    };
}

/// What a view adds to a row of `datasources` (each an index lookup): the
/// newest run as JSON, and the first and last instants of data held.
macro_rules! last_run {
    () => {
        "(SELECT json_object('id', r.id, 'trigger', r.trigger, 'status', r.status, 'queued_at', r.queued_at, \
      'finished_at', r.finished_at, 'inserted', r.inserted, 'updated', r.updated, 'unchanged', r.unchanged, \
      'error_class', r.error_class, 'error', r.error) \
     FROM sync_runs r WHERE r.datasource_id = datasources.id ORDER BY r.queued_at DESC, r.rowid DESC LIMIT 1)"
    };
}
macro_rules! coverage_from {
    () => {
        "(SELECT MIN(s.first_period) FROM sync_streams s WHERE s.datasource_id = datasources.id)"
    };
}
macro_rules! coverage_to {
    () => {
        "(SELECT MAX(s.cursor) FROM sync_streams s WHERE s.datasource_id = datasources.id)"
    };
}

pub(super) const COLUMNS: &str = columns!();

/// [`COLUMNS`] and what a view adds: the newest run and the data's coverage.
pub(super) const VIEW_COLUMNS: &str = concat!(
    columns!(),
    ", ",
    last_run!(),
    " AS last_run, ",
    coverage_from!(),
    " AS coverage_from, ",
    coverage_to!(),
    " AS coverage_to"
);

pub struct NewRow<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub integration_id: &'a str,
    pub display_name: &'a str,
    pub auth_type: &'a str,
    pub status: &'a str,
    pub last_error: Option<&'a str>,
    pub settings: &'a str,
    pub sync_frequency_minutes: u32,
    /// Sealed; `None` for datasources people feed (uploads, readings).
    pub credentials: Option<&'a str>,
    pub credential_hint: Option<&'a str>,
    pub token_expires_at: Option<&'a str>,
    pub tokens_refreshed_at: Option<&'a str>,
    pub provider_info: Option<&'a str>,
    pub now: &'a str,
}

/// Inserts the row and its audit entry atomically (one D1 batch is one
/// transaction): a connection never exists without its `connect` record.
pub async fn insert(db: &Db, row: &NewRow<'_>, entry: &Entry<'_>) -> worker::Result<()> {
    let insert = db
        .prepare(
            "INSERT INTO datasources (id, user_id, integration_id, display_name, auth_type, status, last_error, \
             settings, sync_frequency_minutes, enabled, credentials, credentials_version, credential_hint, \
             token_expires_at, tokens_refreshed_at, provider_info, created_at, updated_at, emissions_basis) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, 1, ?11, ?12, ?13, ?15, ?14, ?14, ?16)",
        )
        .bind(&[
            text(row.id),
            text(row.user_id),
            text(row.integration_id),
            text(row.display_name),
            text(row.auth_type),
            text(row.status),
            opt_text(row.last_error),
            text(row.settings),
            int(row.sync_frequency_minutes.into()),
            opt_text(row.credentials),
            opt_text(row.credential_hint),
            opt_text(row.token_expires_at),
            opt_text(row.tokens_refreshed_at),
            text(row.now),
            opt_text(row.provider_info),
            // Its lines will be written under today's factors and rules.
            text(carbon_core::emissions::factors::fingerprint()),
        ])?;
    db.batch(vec![insert, audit::insert(db, entry)?]).await?;
    Ok(())
}

pub async fn get(db: &Db, user_id: &str, id: &str) -> worker::Result<Option<Record>> {
    db.prepare(format!(
        "SELECT {VIEW_COLUMNS} FROM datasources WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL"
    ))
    .bind(&[text(id), text(user_id)])?
    .first::<Record>(None)
    .await
}

/// A row of [`VIEW_COLUMNS`] but `credentials`, as one JSON object built by
/// SQLite: a list page crosses from D1 to the Worker as one string per row
/// instead of one value per column, and never carries the sealed secret.
const LIST_ROW: &str = concat!(
    "json_object('id', id, 'user_id', user_id, 'integration_id', integration_id, \
    'display_name', display_name, 'auth_type', auth_type, 'status', status, 'last_error', last_error, \
    'settings', settings, 'sync_frequency_minutes', sync_frequency_minutes, 'enabled', enabled, \
    'credentials_version', credentials_version, 'credential_hint', credential_hint, \
    'token_expires_at', token_expires_at, 'last_synced_at', last_synced_at, 'created_at', created_at, \
    'updated_at', updated_at, 'provider_info', provider_info, 'refresh_failures', refresh_failures, \
    'next_sync_at', next_sync_at, 'sync_state', sync_state, 'sync_retry_at', sync_retry_at, \
    'sync_failures', sync_failures, 'sync_failing_since', sync_failing_since, 'paused_reason', paused_reason, \
    'last_run', ",
    last_run!(),
    ", 'coverage_from', ",
    coverage_from!(),
    ", 'coverage_to', ",
    coverage_to!(),
    ")"
);

#[derive(serde::Deserialize)]
struct ListRow {
    row: String,
    total: u64,
}

/// One page, newest first, and the total, in one statement: the page's ids
/// and the count come from the user's index (a window count over it), and
/// only those rows are read and shaped. A page past the end has no row to
/// carry the count, so only then is it counted apart.
pub async fn list(
    db: &Db,
    user_id: &str,
    limit: u32,
    offset: u32,
) -> worker::Result<(Vec<Record>, u64)> {
    let rows = db
        .prepare(format!(
            "SELECT {LIST_ROW} AS row, p.total AS total FROM \
             (SELECT id AS page_id, created_at AS page_created_at, COUNT(*) OVER () AS total \
              FROM datasources WHERE user_id = ?1 AND deleted_at IS NULL \
              ORDER BY created_at DESC, id DESC LIMIT ?2 OFFSET ?3) p \
             JOIN datasources ON datasources.id = p.page_id \
             ORDER BY p.page_created_at DESC, p.page_id DESC"
        ))
        .bind(&[text(user_id), int(limit.into()), int(offset.into())])?
        .all()
        .await?
        .results::<ListRow>()?;
    let total = match rows.first() {
        Some(first) => first.total,
        None if offset == 0 => 0,
        None => db
            .prepare(
                "SELECT COUNT(*) AS n FROM datasources WHERE user_id = ?1 AND deleted_at IS NULL",
            )
            .bind(&[text(user_id)])?
            .first::<u64>(Some("n"))
            .await?
            .unwrap_or(0),
    };
    let records = rows
        .iter()
        .map(|r| serde_json::from_str::<Record>(&r.row))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| worker::Error::RustError(format!("datasource row: {e}")))?;
    Ok((records, total))
}

/// Field changes for [`update`]; `None` leaves a column as it is.
#[derive(Default)]
pub struct Changes<'a> {
    pub display_name: Option<&'a str>,
    pub settings: Option<&'a str>,
    pub sync_frequency_minutes: Option<u32>,
    pub enabled: Option<bool>,
    pub status: Option<&'a str>,
    /// `Some(None)` clears the error.
    pub last_error: Option<Option<&'a str>>,
    pub credentials: Option<&'a str>,
    pub credential_hint: Option<&'a str>,
    pub provider_info: Option<&'a str>,
}

fn set_clauses(c: &Changes<'_>) -> (Vec<String>, Vec<JsValue>) {
    // Parameters ?1..?3 are id, user id and now; changes follow from ?4.
    let mut columns: Vec<(&str, JsValue)> = Vec::new();
    if let Some(v) = c.display_name {
        columns.push(("display_name", text(v)));
    }
    if let Some(v) = c.settings {
        columns.push(("settings", text(v)));
        // Until recomputed (at once, else by the cron), its lines are stale.
        columns.push(("emissions_basis", JsValue::NULL));
    }
    if let Some(v) = c.sync_frequency_minutes {
        columns.push(("sync_frequency_minutes", int(v.into())));
    }
    if let Some(v) = c.enabled {
        columns.push(("enabled", int(v.into())));
    }
    let resumed = c.enabled == Some(true);
    if let Some(v) = c.status {
        columns.push(("status", text(v)));
    }
    if let Some(v) = c.last_error {
        columns.push(("last_error", opt_text(v)));
    }
    if let Some(v) = c.credentials {
        columns.push(("credentials", text(v)));
    }
    if let Some(v) = c.credential_hint {
        columns.push(("credential_hint", text(v)));
    }
    if let Some(v) = c.provider_info {
        columns.push(("provider_info", text(v)));
    }
    let mut sets: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (column, _))| format!("{column} = ?{}", i + 4))
        .collect();
    if c.credentials.is_some() {
        sets.push("credentials_version = credentials_version + 1".into());
    }
    if resumed {
        // Re-enabling resumes a paused datasource: due now, failures forgotten.
        sets.push(
            "paused_reason = NULL, sync_failures = 0, sync_failing_since = NULL, \
             next_sync_at = CASE WHEN sync_state = 'paused' THEN NULL ELSE next_sync_at END, \
             sync_state = CASE WHEN sync_state = 'paused' THEN 'idle' ELSE sync_state END"
                .into(),
        );
    }
    (sets, columns.into_iter().map(|(_, v)| v).collect())
}

/// Applies `changes` with its audit entry in one transaction. With
/// `expected_version`, only if the credentials are still that version.
pub async fn update(
    db: &Db,
    user_id: &str,
    id: &str,
    expected_version: Option<i64>,
    c: &Changes<'_>,
    entry: &Entry<'_>,
    now: &str,
) -> worker::Result<bool> {
    let (mut sets, extra) = set_clauses(c);
    sets.push("updated_at = ?3".into());
    let mut sql = format!(
        "UPDATE datasources SET {} WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL",
        sets.join(", ")
    );
    let mut args = vec![text(id), text(user_id), text(now)];
    args.extend(extra);
    if let Some(v) = expected_version {
        args.push(int(v));
        sql.push_str(&format!(" AND credentials_version = ?{}", args.len()));
    }
    audited_write(db, db.prepare(sql).bind(&args)?, entry).await
}

/// Sets the status (and error) of a row whose credentials are still
/// `version`, releasing any refresh lease. False when the row changed.
pub async fn set_status(
    db: &Db,
    id: &str,
    version: i64,
    status: &str,
    last_error: Option<&str>,
    entry: &Entry<'_>,
    now: &str,
) -> worker::Result<bool> {
    let update = db
        .prepare(
            "UPDATE datasources SET status = ?1, last_error = ?2, refresh_lock_until = NULL, \
             refresh_lock_id = NULL, updated_at = ?3 \
             WHERE id = ?4 AND credentials_version = ?5 AND deleted_at IS NULL",
        )
        .bind(&[
            text(status),
            opt_text(last_error),
            text(now),
            text(id),
            int(version),
        ])?;
    audited_write(db, update, entry).await
}

/// Disconnects: destroys the credentials at once and hides the row; the
/// row itself, its sync logs and its audit trail stay for audit.
pub async fn soft_delete(
    db: &Db,
    user_id: &str,
    id: &str,
    entry: &Entry<'_>,
    now: &str,
) -> worker::Result<bool> {
    let update = db
        .prepare(
            "UPDATE datasources SET credentials = NULL, credential_hint = NULL, token_expires_at = NULL, \
             status = 'disabled', enabled = 0, refresh_lock_until = NULL, deleted_at = ?1, updated_at = ?1, \
             credentials_version = credentials_version + 1 \
             WHERE id = ?2 AND user_id = ?3 AND deleted_at IS NULL",
        )
        .bind(&[text(now), text(id), text(user_id)])?;
    audited_write(db, update, entry).await
}

/// Active OAuth connections whose tokens were last obtained before `before`
/// and whose refresh backoff (if any) has passed by `now`.
pub async fn stale_oauth(
    db: &Db,
    before: &str,
    now: &str,
    limit: u32,
) -> worker::Result<Vec<Record>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM datasources WHERE auth_type = 'oauth2' AND deleted_at IS NULL AND status = 'active' AND enabled = 1 \
         AND (tokens_refreshed_at IS NULL OR tokens_refreshed_at < ?1) \
         AND (refresh_retry_at IS NULL OR refresh_retry_at <= ?2) ORDER BY tokens_refreshed_at LIMIT ?3"
    ))
    .bind(&[text(before), text(now), int(limit.into())])?
    .all()
    .await?
    .results()
}

/// A row by id alone, for the scheduled job (which acts for every user).
pub async fn get_by_id(db: &Db, id: &str) -> worker::Result<Option<Record>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM datasources WHERE id = ?1 AND deleted_at IS NULL"
    ))
    .bind(&[text(id)])?
    .first::<Record>(None)
    .await
}
