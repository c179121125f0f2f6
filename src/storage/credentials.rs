//! Credential writes: the refresh lease and what follows a refresh (store,
//! reauth, failure with backoff), and re-sealing under a new key. Each is a
//! compare-and-swap on the credentials version, the lease holder or the old
//! ciphertext, with its audit entry in the same transaction.

use carbon_core::datasources::Record;

use super::audit::{audited_write, Entry};
use super::datasources::COLUMNS;
use super::{changes, int, opt_text, text, Db};

/// Gives the refresh lease back, if `lease` still holds it: a caller whose
/// lease lapsed cannot release the next holder's.
pub async fn release_refresh(db: &Db, id: &str, lease: &str) -> worker::Result<()> {
    db.prepare(
        "UPDATE datasources SET refresh_lock_until = NULL, refresh_lock_id = NULL \
         WHERE id = ?1 AND refresh_lock_id = ?2",
    )
    .bind(&[text(id), text(lease)])?
    .run()
    .await?;
    Ok(())
}

/// Takes the refresh lease `lease` until `until` if nobody holds a live one
/// and the credentials are still `version`. The loser re-reads instead of
/// refreshing again.
pub async fn claim_refresh(
    db: &Db,
    id: &str,
    version: i64,
    lease: &str,
    now: &str,
    until: &str,
) -> worker::Result<bool> {
    let result = db
        .prepare(
            "UPDATE datasources SET refresh_lock_until = ?1, refresh_lock_id = ?2 \
             WHERE id = ?3 AND credentials_version = ?4 AND deleted_at IS NULL \
             AND (refresh_lock_until IS NULL OR refresh_lock_until < ?5)",
        )
        .bind(&[text(until), text(lease), text(id), int(version), text(now)])?
        .run()
        .await?;
    Ok(changes(&result) == 1)
}

pub struct NewTokens<'a> {
    pub credentials: &'a str,
    pub token_expires_at: Option<&'a str>,
    pub status: &'a str,
    pub last_error: Option<&'a str>,
    /// The refresh lease to give back with this write, if it is still held.
    pub lease: Option<&'a str>,
}

/// Stores new tokens if the credentials are still `version`, bumps the
/// version, clears the refresh backoff and gives back `t.lease` (only if it
/// still holds the lease), with its audit entry, in one transaction.
///
/// The write is guarded by the version, not the lease: a rotated refresh
/// token is the only one the provider will accept now, so it is stored even
/// if the lease lapsed meanwhile (the refresh deadline makes that all but
/// impossible); what must never happen is overwriting newer credentials.
pub async fn store_tokens(
    db: &Db,
    id: &str,
    version: i64,
    t: &NewTokens<'_>,
    entry: &Entry<'_>,
    now: &str,
) -> worker::Result<bool> {
    let update = db
        .prepare(
            "UPDATE datasources SET credentials = ?1, credentials_version = credentials_version + 1, \
             token_expires_at = ?2, tokens_refreshed_at = ?3, updated_at = ?3, status = ?4, last_error = ?5, \
             refresh_failures = 0, refresh_retry_at = NULL, \
             refresh_lock_until = CASE WHEN refresh_lock_id = ?6 THEN NULL ELSE refresh_lock_until END, \
             refresh_lock_id = CASE WHEN refresh_lock_id = ?6 THEN NULL ELSE refresh_lock_id END \
             WHERE id = ?7 AND credentials_version = ?8 AND deleted_at IS NULL",
        )
        .bind(&[
            text(t.credentials),
            opt_text(t.token_expires_at),
            text(now),
            text(t.status),
            opt_text(t.last_error),
            opt_text(t.lease),
            text(id),
            int(version),
        ])?;
    audited_write(db, update, entry).await
}

/// Marks the grant dead (`reauth_required`), only if the credentials are
/// still `version` and `lease` still holds the refresh lease: a caller whose
/// refresh token was already spent by a winner must not break the
/// connection the winner just refreshed.
pub async fn mark_reauth(
    db: &Db,
    id: &str,
    version: i64,
    lease: &str,
    message: &str,
    entry: &Entry<'_>,
    now: &str,
) -> worker::Result<bool> {
    let update = db
        .prepare(
            "UPDATE datasources SET status = 'reauth_required', last_error = ?1, refresh_lock_until = NULL, \
             refresh_lock_id = NULL, updated_at = ?2 \
             WHERE id = ?3 AND credentials_version = ?4 AND refresh_lock_id = ?5 AND deleted_at IS NULL",
        )
        .bind(&[text(message), text(now), text(id), int(version), text(lease)])?;
    audited_write(db, update, entry).await
}

/// A transient refresh failure: counts it, schedules the next attempt,
/// parks the connection (`error` with `park`'s reason) when asked, and gives
/// the lease back, all only while `lease` holds it.
pub async fn refresh_failed(
    db: &Db,
    id: &str,
    lease: &str,
    retry_at: &str,
    park: Option<&str>,
    entry: &Entry<'_>,
    now: &str,
) -> worker::Result<()> {
    let update = db
        .prepare(
            "UPDATE datasources SET refresh_failures = refresh_failures + 1, refresh_retry_at = ?1, \
             status = CASE WHEN ?2 IS NULL THEN status ELSE 'error' END, \
             last_error = COALESCE(?2, last_error), \
             refresh_lock_until = NULL, refresh_lock_id = NULL, updated_at = ?3 \
             WHERE id = ?4 AND refresh_lock_id = ?5",
        )
        .bind(&[text(retry_at), opt_text(park), text(now), text(id), text(lease)])?;
    audited_write(db, update, entry).await?;
    Ok(())
}

/// Re-encrypts a row's credentials under the active key. Guarded by the
/// exact old ciphertext: any concurrent credential write wins. The version
/// is not bumped (the secret is the same), so a refresh in progress is not
/// disturbed.
pub async fn reseal(
    db: &Db,
    id: &str,
    old: &str,
    new: &str,
    entry: &Entry<'_>,
) -> worker::Result<bool> {
    let update = db
        .prepare("UPDATE datasources SET credentials = ?1 WHERE id = ?2 AND credentials = ?3")
        .bind(&[text(new), text(id), text(old)])?;
    audited_write(db, update, entry).await
}

/// Rows whose credentials are sealed under some key other than the one
/// whose envelopes start with `active_prefix` (e.g. `v1.1a2b3c4d.`).
pub async fn under_other_keys(
    db: &Db,
    active_prefix: &str,
    limit: u32,
) -> worker::Result<Vec<Record>> {
    db.prepare(format!(
        "SELECT {COLUMNS} FROM datasources WHERE credentials IS NOT NULL \
         AND substr(credentials, 1, ?1) != ?2 LIMIT ?3"
    ))
    .bind(&[
        int(active_prefix.len() as i64),
        text(active_prefix),
        int(limit.into()),
    ])?
    .all()
    .await?
    .results()
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct KeyCount {
    pub key_id: String,
    pub rows: u64,
}

/// How many rows hold credentials under each key id (the envelope's second
/// field), so an operator knows when a retired key can be dropped.
pub async fn rows_by_key(db: &Db) -> worker::Result<Vec<KeyCount>> {
    db.prepare(
        "SELECT substr(credentials, 4, instr(substr(credentials, 4), '.') - 1) AS key_id, COUNT(*) AS rows \
         FROM datasources WHERE credentials IS NOT NULL GROUP BY key_id ORDER BY key_id",
    )
    .all()
    .await?
    .results()
}
