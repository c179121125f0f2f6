//! The cron trigger: keeps OAuth grants alive for connections nobody used
//! and drops spent authorization states. Writes one log line per run.

use carbon_core::datasources::timestamp;
use chrono::Duration;
use serde_json::json;
use worker::Env;

use crate::connections::{refresh, Ctx};
use crate::storage::oauth_states;

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
    let refreshed = refresh::refresh_stale(&ctx).await;
    let purged = oauth_states::purge(&ctx.db, &timestamp(ctx.now() - Duration::days(1))).await;
    let line = json!({
        "level": if refreshed.is_ok() && purged.is_ok() { "info" } else { "error" },
        "msg": "scheduled",
        "request_id": run_id,
        "cron": cron,
        "refreshed": refreshed.as_ref().map(|r| r.0).unwrap_or(0),
        "refresh_failed": refreshed.as_ref().map(|r| r.1).unwrap_or(0),
        "error": refreshed.err().map(|e| format!("{e:?}")).or(purged.err().map(|e| e.to_string())),
    });
    worker::console_log!("{line}");
}
