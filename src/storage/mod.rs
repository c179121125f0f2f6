//! All SQL lives here, behind small functions with bound parameters;
//! handlers never build SQL.

use worker::{D1Database, Env};

pub const DB_BINDING: &str = "DB";

pub fn database(env: &Env) -> worker::Result<D1Database> {
    env.d1(DB_BINDING)
}

/// The name of the last migration `wrangler d1 migrations apply` recorded,
/// e.g. `0001_init.sql`; `None` on a database nobody migrated.
pub async fn schema_version(db: &D1Database) -> worker::Result<Option<String>> {
    // d1_migrations is created by wrangler on the first apply.
    let exists = db
        .prepare("SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = 'd1_migrations'")
        .first::<serde_json::Value>(None)
        .await?
        .is_some();
    if !exists {
        return Ok(None);
    }
    db.prepare("SELECT name FROM d1_migrations ORDER BY id DESC LIMIT 1")
        .first::<String>(Some("name"))
        .await
}
