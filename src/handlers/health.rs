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
}

/// GET /api/v1/health
///
/// 200 when D1 answers, 503 (same body shape) when it does not, so a load
/// balancer or uptime check can act on the status alone.
pub async fn get(env: &Env, statements: &StatementCount) -> Result<Reply, ApiError> {
    let schema = match storage::database(env, statements) {
        Ok(db) => storage::schema_version(&db).await,
        Err(e) => Err(e),
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
    Reply::json(
        status,
        &Health {
            status: if status == 200 { "ok" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            database,
            schema_version,
        },
    )
}
