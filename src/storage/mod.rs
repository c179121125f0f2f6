//! All SQL lives here, behind small functions with bound parameters;
//! handlers and services never build SQL.

pub mod audit;
pub mod datasources;
pub mod oauth_states;

use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1Result, Env};

pub const DB_BINDING: &str = "DB";

pub fn database(env: &Env) -> worker::Result<D1Database> {
    env.d1(DB_BINDING)
}

pub(crate) fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

pub(crate) fn opt_text(value: Option<&str>) -> JsValue {
    value.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

pub(crate) fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// Rows a write changed (0 when a compare-and-swap lost).
pub(crate) fn changes(result: &D1Result) -> u64 {
    result
        .meta()
        .ok()
        .flatten()
        .and_then(|m| m.changes)
        .unwrap_or(0) as u64
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
