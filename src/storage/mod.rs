//! All SQL lives here, behind small functions with bound parameters;
//! handlers and services never build SQL.

pub mod activity;
pub mod audit;
pub mod credentials;
pub mod datasources;
pub mod discovery;
pub mod emissions;
pub mod ingest;
pub mod intensity;
pub mod oauth_states;
pub mod runs;
pub mod sync;
pub mod webhooks;

use std::cell::Cell;
use std::rc::Rc;

use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, D1Result, Env};

pub const DB_BINDING: &str = "DB";

/// Statements one request sent to D1, for its log line. Local D1 costs about
/// 1.5-2 ms of CPU per statement, so this is the number to watch.
pub type StatementCount = Rc<Cell<u32>>;

/// The D1 binding, counting the statements prepared through it.
pub struct Db {
    inner: D1Database,
    statements: StatementCount,
}

impl Db {
    pub fn prepare(&self, sql: impl Into<String>) -> D1PreparedStatement {
        self.statements.set(self.statements.get() + 1);
        self.inner.prepare(sql)
    }

    /// One transaction: every statement or none.
    pub async fn batch(
        &self,
        statements: Vec<D1PreparedStatement>,
    ) -> worker::Result<Vec<D1Result>> {
        self.inner.batch(statements).await
    }
}

pub fn database(env: &Env, statements: &StatementCount) -> worker::Result<Db> {
    Ok(Db {
        inner: env.d1(DB_BINDING)?,
        statements: statements.clone(),
    })
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
pub async fn schema_version(db: &Db) -> worker::Result<Option<String>> {
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
