use carbon_core::error::ApiError;
use serde::Serialize;
use worker::Env;

use crate::http::Reply;
use crate::storage::{self, StatementCount};

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    database: &'static str,
    schema_version: Option<String>,
    encryption: Option<Encryption>,
}

/// Where key rotation stands: a retired key (in `ENCRYPTION_KEYS`) can be
/// dropped once no row is left under its id. Key ids are derived from the
/// keys by a one-way hash and reveal nothing about them.
#[derive(Serialize)]
struct Encryption {
    /// `null` when `ENCRYPTION_KEY` is missing or malformed.
    active_key_id: Option<String>,
    rows_by_key: Vec<crate::storage::credentials::KeyCount>,
}

/// GET /api/v1/health
///
/// 200 when D1 answers, 503 (same body shape) when it does not, so a load
/// balancer or uptime check can act on the status alone.
pub async fn get(env: &Env, statements: &StatementCount) -> Result<Reply, ApiError> {
    let db = storage::database(env, statements);
    let schema = match &db {
        Ok(db) => storage::schema_version(db).await,
        Err(e) => Err(worker::Error::RustError(e.to_string())),
    };
    let (status, database, schema_version) = match schema {
        Ok(version) => (200, "ok", version),
        Err(e) => {
            worker::console_error!(
                "{}",
                serde_json::json!({"level": "error", "msg": "health: D1 unreachable", "error": e.to_string()})
            );
            (503, "unreachable", None)
        }
    };
    let encryption = match (&db, status) {
        (Ok(db), 200) => storage::credentials::rows_by_key(db)
            .await
            .ok()
            .map(|rows_by_key| Encryption {
                active_key_id: crate::crypto::key_ring(env)
                    .as_ref()
                    .as_ref()
                    .ok()
                    .map(|r| r.active().id().to_owned()),
                rows_by_key,
            }),
        _ => None,
    };
    Reply::json(
        status,
        &Health {
            status: if status == 200 { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            database,
            schema_version,
            encryption,
        },
    )
}
