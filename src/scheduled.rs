//! The cron trigger: keeps OAuth grants alive for connections nobody used,
//! finishes key rotations, drops spent authorization states and audit rows
//! past their retention. Writes one log line per run.

use carbon_core::datasources::timestamp;
use chrono::Duration;
use serde_json::json;
use worker::Env;

use crate::connections::{refresh, rotation, Ctx};
use crate::storage::{audit, oauth_states};

/// How long the audit trail is kept. Credential decryptions, refreshes and
/// disconnections stay answerable for two years, the span a security review
/// or a customer's own audit usually reaches back over.
pub const AUDIT_RETENTION: Duration = Duration::days(730);

pub async fn run(cron: &str, env: &Env) {
    let run_id = format!("cron-{}", js_sys::Date::now() as u64);
    let ctx = match Ctx::new(env, &run_id, "system:cron".into(), &Default::default()) {
        Ok(ctx) => ctx,
        Err(e) => {
            worker::console_error!(
                "{}",
                json!({"level": "error", "msg": "scheduled", "cron": cron, "error": format!("{e:?}")})
            );
            return;
        }
    };
    let now = ctx.now();
    let refreshed = refresh::refresh_stale(&ctx).await;
    let resealed = rotation::reseal_batch(&ctx).await;
    let purged = oauth_states::purge(&ctx.db, &timestamp(now - Duration::days(1))).await;
    let pruned = audit::purge(&ctx.db, &timestamp(now - AUDIT_RETENTION)).await;
    let errors: Vec<String> = [
        refreshed.as_ref().err().map(|e| format!("refresh: {e:?}")),
        resealed.as_ref().err().map(|e| format!("reseal: {e:?}")),
        purged.as_ref().err().map(|e| format!("oauth states: {e}")),
        pruned.as_ref().err().map(|e| format!("audit: {e}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let line = json!({
        "level": if errors.is_empty() { "info" } else { "error" },
        "msg": "scheduled",
        "request_id": run_id,
        "cron": cron,
        "refreshed": refreshed.as_ref().map(|r| r.0).unwrap_or(0),
        "refresh_failed": refreshed.as_ref().map(|r| r.1).unwrap_or(0),
        "resealed": resealed.as_ref().ok(),
        "error": (!errors.is_empty()).then(|| errors.join("; ")),
    });
    if errors.is_empty() {
        worker::console_log!("{line}");
    } else {
        worker::console_error!("{line}");
    }
}
