//! The cron trigger: keeps OAuth grants alive for connections nobody used,
//! finishes key rotations, drops spent authorization states and audit rows
//! past their retention. Writes one log line per run.

use carbon_core::datasources::timestamp;
use chrono::Duration;
use serde_json::json;
use worker::{Env, MessageExt};

use crate::connections::{refresh, rotation, Ctx};
use crate::storage::{audit, oauth_states, runs};
use crate::sync::{self, SyncMessage};

/// How long the audit trail is kept. Credential decryptions, refreshes and
/// disconnections stay answerable for two years, the span a security review
/// or a customer's own audit usually reaches back over.
pub const AUDIT_RETENTION: Duration = Duration::days(730);
/// How long finished sync runs are kept (a reporting year and a month).
pub const RUN_RETENTION: Duration = Duration::days(400);

/// The cron expression (in `wrangler.toml`) that schedules syncs; any other
/// runs the hourly maintenance.
pub const SYNC_CRON: &str = "*/15 * * * *";

/// Where the sync queue puts messages it gave up on (wrangler.toml); this
/// Worker consumes it too, to end their runs.
const DEAD_LETTER_QUEUE: &str = "sync-dlq";

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
    if cron == SYNC_CRON {
        let scheduled = sync::schedule(&ctx).await;
        let grid = crate::intensity::refresh(&ctx).await;
        let recomputed = crate::emissions::recompute_stale(&ctx).await;
        let errors: Vec<String> = [
            scheduled.as_ref().err().map(|e| format!("sync: {e:?}")),
            grid.as_ref()
                .err()
                .map(|e| format!("grid intensity: {e:?}")),
            recomputed.as_ref().err().map(|e| format!("emissions: {e}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let fields = json!({
            "sync_queued": scheduled.as_ref().map(|s| s.0).unwrap_or(0),
            "sync_resent": scheduled.as_ref().map(|s| s.1).unwrap_or(0),
            "intensity_windows": grid.as_ref().map(|g| g.0).unwrap_or(0),
            "intensity_points": grid.as_ref().map(|g| g.1).unwrap_or(0),
            "emissions_recomputed": recomputed.as_ref().copied().unwrap_or(0),
        });
        return log_run(&run_id, cron, fields, &errors);
    }
    let now = ctx.now();
    let refreshed = refresh::refresh_stale(&ctx).await;
    let resealed = rotation::reseal_batch(&ctx).await;
    let purged = oauth_states::purge(&ctx.db, &timestamp(now - Duration::days(1))).await;
    let pruned = audit::purge(&ctx.db, &timestamp(now - AUDIT_RETENTION)).await;
    let runs_pruned = runs::purge(&ctx.db, &timestamp(now - RUN_RETENTION)).await;
    let errors: Vec<String> = [
        refreshed.as_ref().err().map(|e| format!("refresh: {e:?}")),
        resealed.as_ref().err().map(|e| format!("reseal: {e:?}")),
        purged.as_ref().err().map(|e| format!("oauth states: {e}")),
        pruned.as_ref().err().map(|e| format!("audit: {e}")),
        runs_pruned
            .as_ref()
            .err()
            .map(|e| format!("sync runs: {e}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let fields = json!({
        "refreshed": refreshed.as_ref().map(|r| r.0).unwrap_or(0),
        "refresh_failed": refreshed.as_ref().map(|r| r.1).unwrap_or(0),
        "resealed": resealed.as_ref().ok(),
    });
    log_run(&run_id, cron, fields, &errors);
}

/// One log line per cron run: its counts, and its errors (to the error
/// stream when there are any).
fn log_run(run_id: &str, cron: &str, fields: serde_json::Value, errors: &[String]) {
    let mut line = json!({
        "level": if errors.is_empty() { "info" } else { "error" },
        "msg": "scheduled",
        "request_id": run_id,
        "cron": cron,
        "error": (!errors.is_empty()).then(|| errors.join("; ")),
    });
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    if errors.is_empty() {
        worker::console_log!("{line}");
    } else {
        worker::console_error!("{line}");
    }
}

/// The sync queue's batch: each message is one slice, acknowledged on its
/// own. A slice whose bookkeeping failed (D1 down) is retried by the queue
/// with a delay; the run itself is recoverable from D1 either way.
pub async fn consume(batch: worker::MessageBatch<SyncMessage>, env: &Env) {
    let messages = match batch.messages() {
        Ok(m) => m,
        Err(e) => {
            worker::console_error!(
                "{}",
                json!({"level": "error", "msg": "queue", "error": e.to_string()})
            );
            batch.retry_all();
            return;
        }
    };
    let dead_letters = batch.queue() == DEAD_LETTER_QUEUE;
    for message in messages {
        let request_id = format!("queue-{}", message.id());
        let result = match Ctx::new(env, &request_id, "system:sync".into(), &Default::default()) {
            Ok(ctx) if dead_letters => sync::abandon(&ctx, message.body()).await,
            Ok(ctx) => sync::consume(&ctx, message.body()).await,
            Err(e) => Err(e),
        };
        let line = json!({
            "level": if result.is_ok() { "info" } else { "error" },
            "msg": if dead_letters { "sync dead letter" } else { "sync slice" },
            "request_id": request_id,
            "run_id": message.body().run_id,
            "error": result.as_ref().err().map(|e| format!("{e:?}")),
        });
        match result {
            Ok(()) => {
                worker::console_log!("{line}");
                message.ack();
            }
            Err(_) => {
                worker::console_error!("{line}");
                message.retry_with_options(
                    &worker::QueueRetryOptionsBuilder::new()
                        .with_delay_seconds(30)
                        .build(),
                );
            }
        }
    }
}
