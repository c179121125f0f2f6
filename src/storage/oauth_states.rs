//! Pending OAuth authorization requests, consumed exactly once.

use super::Db;
use serde::Deserialize;

use super::{opt_text, text};

pub struct NewState<'a> {
    pub state_hash: &'a str,
    pub user_id: &'a str,
    pub integration_id: &'a str,
    pub datasource_id: Option<&'a str>,
    pub display_name: &'a str,
    pub code_verifier: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub created_at: &'a str,
    pub expires_at: &'a str,
}

pub async fn insert(db: &Db, s: &NewState<'_>) -> worker::Result<()> {
    db.prepare(
        "INSERT INTO oauth_states (state_hash, user_id, integration_id, datasource_id, display_name, \
         code_verifier, redirect_uri, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .bind(&[
        text(s.state_hash),
        text(s.user_id),
        text(s.integration_id),
        opt_text(s.datasource_id),
        text(s.display_name),
        opt_text(s.code_verifier),
        text(s.redirect_uri),
        text(s.created_at),
        text(s.expires_at),
    ])?
    .run()
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize)]
pub struct State {
    pub user_id: String,
    pub integration_id: String,
    pub datasource_id: Option<String>,
    pub display_name: String,
    pub code_verifier: Option<String>,
    pub redirect_uri: String,
}

/// Marks the state used and returns it, in one statement, if it belongs to
/// `user_id`, is unused and has not expired: of two completions racing with
/// the same state, exactly one gets the row, and another user's attempt
/// leaves it untouched (and learns nothing).
pub async fn consume(
    db: &Db,
    state_hash: &str,
    user_id: &str,
    now: &str,
) -> worker::Result<Option<State>> {
    db.prepare(
        "UPDATE oauth_states SET used_at = ?1 WHERE state_hash = ?2 AND user_id = ?3 AND used_at IS NULL \
         AND expires_at > ?1 \
         RETURNING user_id, integration_id, datasource_id, display_name, code_verifier, redirect_uri",
    )
    .bind(&[text(now), text(state_hash), text(user_id)])?
    .first::<State>(None)
    .await
}

/// Whether a state is pending (unused, unexpired) for `integration_id`: the
/// public callback page reads this to say at once when a link is stale. It
/// changes nothing.
pub async fn is_pending(
    db: &Db,
    state_hash: &str,
    integration_id: &str,
    now: &str,
) -> worker::Result<bool> {
    let row = db
        .prepare(
            "SELECT 1 AS pending FROM oauth_states WHERE state_hash = ?1 AND integration_id = ?2 \
             AND used_at IS NULL AND expires_at > ?3",
        )
        .bind(&[text(state_hash), text(integration_id), text(now)])?
        .first::<serde_json::Value>(None)
        .await?;
    Ok(row.is_some())
}

/// Drops states nobody will use again (expired a day ago or more).
pub async fn purge(db: &Db, before: &str) -> worker::Result<()> {
    db.prepare("DELETE FROM oauth_states WHERE expires_at < ?1")
        .bind(&[text(before)])?
        .run()
        .await?;
    Ok(())
}
