//! The audit log: who did what to which connection, including every
//! credential decryption. Rows outlive their datasource.

use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use super::Db;

use super::{opt_text, text};

pub struct Entry<'a> {
    pub id: String,
    pub user_id: &'a str,
    pub datasource_id: &'a str,
    /// `connect`, `update`, `delete`, `refresh`, `decrypt`, `reauth_required`...
    pub action: &'a str,
    /// `user:<id>` or `system:<job>`.
    pub actor: &'a str,
    pub request_id: &'a str,
    pub detail: Option<&'a str>,
    pub at: &'a str,
}

pub fn insert(db: &Db, e: &Entry<'_>) -> worker::Result<D1PreparedStatement> {
    bind(
        db,
        "INSERT INTO audit_log (id, user_id, datasource_id, action, actor, request_id, detail, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        e,
    )
}

/// Inserts only if the statement just before it in the same batch changed a
/// row (SQLite's `changes()`), so a lost compare-and-swap leaves no entry
/// claiming a change that did not happen.
pub fn insert_if_changed(db: &Db, e: &Entry<'_>) -> worker::Result<D1PreparedStatement> {
    bind(
        db,
        "INSERT INTO audit_log (id, user_id, datasource_id, action, actor, request_id, detail, created_at) \
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE changes() = 1",
        e,
    )
}

fn bind(db: &Db, sql: &str, e: &Entry<'_>) -> worker::Result<D1PreparedStatement> {
    db.prepare(sql).bind(&[
        text(&e.id),
        text(e.user_id),
        text(e.datasource_id),
        text(e.action),
        text(e.actor),
        text(e.request_id),
        opt_text(e.detail),
        text(e.at),
    ])
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub action: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub detail: Option<String>,
    pub created_at: String,
}

/// The newest entries first.
pub async fn list(
    db: &Db,
    user_id: &str,
    datasource_id: &str,
    limit: u32,
) -> worker::Result<Vec<Row>> {
    db.prepare(
        "SELECT id, action, actor, request_id, detail, created_at FROM audit_log \
         WHERE user_id = ?1 AND datasource_id = ?2 ORDER BY created_at DESC, rowid DESC LIMIT ?3",
    )
    .bind(&[text(user_id), text(datasource_id), super::int(limit.into())])?
    .all()
    .await?
    .results()
}

/// Drops audit rows older than `before` (the retention window).
pub async fn purge(db: &Db, before: &str) -> worker::Result<()> {
    db.prepare("DELETE FROM audit_log WHERE created_at < ?1")
        .bind(&[text(before)])?
        .run()
        .await?;
    Ok(())
}

/// Runs a single-row write and its audit entry in one transaction; the entry
/// is kept only if the write changed the row. True when it did.
pub async fn audited_write(
    db: &Db,
    write: D1PreparedStatement,
    entry: &Entry<'_>,
) -> worker::Result<bool> {
    let results = db.batch(vec![write, insert_if_changed(db, entry)?]).await?;
    Ok(super::changes(&results[0]) == 1)
}
