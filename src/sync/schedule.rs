//! The cron's half of syncing: queue a run for every due datasource in one
//! D1 batch and `sendBatch`, and resend the messages of runs that stalled.

use carbon_core::datasources::{new_id, timestamp};
use carbon_core::error::ApiError;
use carbon_core::providers;
use carbon_core::sync::plan::{self, RunMode, RunPlan};
use chrono::Duration;
use worker::Env;

use super::{SyncMessage, QUEUE};
use crate::connections::{db_error, Ctx};
use crate::random;
use crate::storage::runs;

/// Datasources queued per cron tick: 96 ticks a day at this cap is 48,000
/// a day (README, "Capacity").
const PER_TICK: u32 = 500;

/// Sends one message per run, in batches of 100 (`sendBatch`'s limit).
/// A batch that fails is left to the stalled-run sweep of a later tick.
async fn send_all(env: &Env, run_ids: &[String]) -> Result<u32, ApiError> {
    let queue = env
        .queue(QUEUE)
        .map_err(|e| ApiError::internal(format!("queue binding {QUEUE}: {e}")))?;
    let mut sent = 0;
    for chunk in run_ids.chunks(100) {
        let batch = chunk.iter().map(|id| SyncMessage { run_id: id.clone() });
        match queue.send_batch(batch).await {
            Ok(()) => sent += chunk.len() as u32,
            Err(e) => worker::console_error!(
                "{}",
                serde_json::json!({"level": "error", "msg": "queue sendBatch failed; a later tick resends", "error": e.to_string()})
            ),
        }
    }
    Ok(sent)
}

/// The cron: queue a run for every due datasource that can sync (one D1
/// batch, then `sendBatch`), and resend the messages of runs that stalled.
/// Returns (queued, resent).
pub async fn schedule(ctx: &Ctx<'_>) -> Result<(u32, u32), ApiError> {
    let now = ctx.now();
    let due = runs::due(&ctx.db, &timestamp(now), &providers::syncing(), PER_TICK)
        .await
        .map_err(db_error)?;
    let planned = RunPlan::new(RunMode::Incremental, None, None, now);
    let scheduled: Vec<_> = due
        .iter()
        .map(|rec| {
            let settings = serde_json::from_str(&rec.settings).unwrap_or_default();
            let run = planned.with_horizon(plan::horizon_setting(&settings), now);
            runs::Scheduled {
                run_id: new_id("run", random::bytes()),
                datasource_id: &rec.id,
                user_id: &rec.user_id,
                horizon_start: timestamp(run.horizon_start),
            }
        })
        .collect();
    let queued_ids = if scheduled.is_empty() {
        Vec::new()
    } else {
        runs::queue_many(&ctx.db, &scheduled, &timestamp(planned.to), &timestamp(now))
            .await
            .map_err(db_error)?
    };
    let queued = send_all(ctx.env, &queued_ids).await?;
    let stalled = runs::stalled(
        &ctx.db,
        &timestamp(now - Duration::minutes(10)),
        &timestamp(now),
        PER_TICK,
    )
    .await
    .map_err(db_error)?;
    let resent = send_all(ctx.env, &stalled).await?;
    Ok((queued, resent))
}
