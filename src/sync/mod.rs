//! The sync engine's Worker side: queueing runs (API, cron), and the queue
//! consumer that runs one slice per message. The engine itself, and every
//! decision it makes, is `carbon_core::sync`.

pub mod adapters;
mod budgets;
mod schedule;

pub use schedule::schedule;

use carbon_core::datasources::{new_id, parse_timestamp, timestamp, Record, Status};
use carbon_core::error::ApiError;
use carbon_core::providers;
use carbon_core::sync::engine::{run_slice, Slice, SliceOutcome};
use carbon_core::sync::plan::{self, RunMode, RunPlan, Trigger};
use carbon_core::sync::run::Run;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use worker::{Env, MessageBuilder};

use crate::connections::refresh::fresh_tokens;
use crate::connections::{db_error, Ctx, Secret};
use crate::random;
use crate::storage::runs::{self, Finish, NewRun};
use crate::storage::sync::D1SyncStore;
use adapters::{R2Blobs, WorkerFetcher};

pub const QUEUE: &str = "SYNC_QUEUE";
pub const RAW_BUCKET: &str = "RAW";

/// Subrequests one slice may spend on provider calls and R2 puts: the free
/// plan allows 50 per invocation, and the slice's own D1 calls (6-9), queue
/// send and call-budget Durable Object calls (up to 2 a budget, and a close)
/// need the rest.
const SLICE_BUDGET: u32 = 32;
/// How long a consumer holds a run: longer than any slice takes.
const RUN_LEASE: Duration = Duration::minutes(5);

/// The run's error class after a first 401 from an OAuth provider: the next
/// slice forces a refresh.
const UNAUTHORIZED_ONCE: &str = "unauthorized_refreshing";

/// A queue message: everything else is read from D1, so a message lost or
/// delivered twice changes nothing.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncMessage {
    pub run_id: String,
}

async fn send(env: &Env, run_id: &str, delay_secs: u32) -> Result<(), ApiError> {
    let queue = env
        .queue(QUEUE)
        .map_err(|e| ApiError::internal(format!("queue binding {QUEUE}: {e}")))?;
    let message = MessageBuilder::new(SyncMessage {
        run_id: run_id.to_owned(),
    })
    .delay_seconds(delay_secs.min(43_200))
    .build();
    queue
        .send(message)
        .await
        .map_err(|e| ApiError::internal(format!("queue send: {e}")))
}

/// Queues a run for a datasource. `Err(Conflict)` names the run in progress.
pub async fn start(
    ctx: &Ctx<'_>,
    rec: &Record,
    trigger: Trigger,
    mode: RunMode,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Run, ApiError> {
    let now = ctx.now();
    let settings: serde_json::Value = serde_json::from_str(&rec.settings).unwrap_or_default();
    let planned =
        RunPlan::new(mode, from, to, now).with_horizon(plan::horizon_setting(&settings), now);
    let id = new_id("run", random::bytes());
    let from = planned.from.map(timestamp);
    let inserted = runs::insert(
        &ctx.db,
        &NewRun {
            id: &id,
            datasource_id: &rec.id,
            user_id: &rec.user_id,
            trigger: trigger.as_str(),
            mode: mode.as_str(),
            period_from: from.as_deref(),
            period_to: &timestamp(planned.to),
            horizon_start: &timestamp(planned.horizon_start),
            now: &timestamp(now),
        },
    )
    .await
    .map_err(db_error)?;
    let Some(run) = inserted else {
        let active = runs::active(&ctx.db, &rec.id).await.map_err(db_error)?;
        return Err(ApiError::Conflict {
            detail: format!(
                "a sync of this datasource is already in progress (run {})",
                active.map(|r| r.id).unwrap_or_default()
            ),
        });
    };
    send(ctx.env, &run.id, 0).await?;
    Ok(run)
}

/// Leases the message's run, with its datasource; `None` when the run is
/// finished, its datasource deleted, or another consumer holds it.
async fn claim(ctx: &Ctx<'_>, message: &SyncMessage) -> Result<Option<(Run, Record)>, ApiError> {
    let now = ctx.now();
    runs::claim(
        &ctx.db,
        &message.run_id,
        &timestamp(now),
        &timestamp(now + RUN_LEASE),
    )
    .await
    .map_err(db_error)
}

/// One queue message: one slice of one run. Never fails the batch: every
/// outcome is recorded in D1 and, where work remains, a new message sent.
pub async fn consume(ctx: &Ctx<'_>, message: &SyncMessage) -> Result<(), ApiError> {
    let now = ctx.now();
    let Some((run, rec)) = claim(ctx, message).await? else {
        // Finished, deleted, or another consumer holds it: nothing to do.
        return Ok(());
    };
    let plan = RunPlan {
        mode: if run.mode == "full" {
            RunMode::Full
        } else {
            RunMode::Incremental
        },
        from: run.period_from.as_deref().and_then(parse_timestamp),
        to: parse_timestamp(&run.period_to).unwrap_or(now),
        horizon_start: parse_timestamp(&run.horizon_start).unwrap_or(now - plan::DEFAULT_HORIZON),
    };
    let provider = providers::provider(&rec.integration_id);
    let oauth = provider.is_some_and(|p| p.oauth().is_some());
    let secret = if oauth {
        // A 401 earlier in this run forces one refresh before the retry.
        let force = run.error_class.as_deref() == Some(UNAUTHORIZED_ONCE);
        fresh_tokens(ctx, &rec, force, "sync")
            .await
            .map(|f| Secret::Oauth { tokens: f.tokens })
    } else {
        ctx.open(&rec, "sync").await
    };
    let secret = match secret {
        Ok(s) => s,
        Err(ApiError::Conflict { detail }) => {
            return end(ctx, &run, &rec, "failed", "credentials", &detail, None).await;
        }
        Err(e @ (ApiError::ServiceUnavailable { .. } | ApiError::BadGateway { .. })) => {
            // The token endpoint is down or busy: this slice waits.
            return retry_later(ctx, &run, now, "refresh", &format!("{e:?}")).await;
        }
        Err(e) => return Err(e), // configuration: the queue retries
    };
    let user_settings: serde_json::Value = serde_json::from_str(&rec.settings).unwrap_or_default();
    let Some(source) =
        provider.and_then(|p| p.sync_source(secret.as_secrets(), &ctx.settings(), &user_settings))
    else {
        return end(
            ctx,
            &run,
            &rec,
            "failed",
            "unsupported",
            "this integration cannot sync",
            None,
        )
        .await;
    };
    let emissions = carbon_core::emissions::lines::Settings::from_json(&user_settings);
    let store = D1SyncStore {
        db: &ctx.db,
        datasource_id: &rec.id,
        user_id: &rec.user_id,
        emissions: &emissions,
        settings: &rec.settings,
    };
    let bucket = ctx
        .env
        .bucket(RAW_BUCKET)
        .map_err(|e| ApiError::internal(format!("R2 binding {RAW_BUCKET}: {e}")))?;
    // Providers that limit the platform's app (and tenants), not each
    // connection: the calls come from the shared budgets before any is made.
    let mut keys = Vec::new();
    if let Some(p) = provider {
        keys.push((rec.integration_id.clone(), p.app_limits(&ctx.settings())));
        let info: serde_json::Value = rec
            .provider_info
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        keys.extend(p.tenant_budgets(&info, &rec.id, &ctx.settings()));
    }
    let taken = match budgets::take(ctx.env, keys, SLICE_BUDGET / 2).await? {
        Ok(taken) => taken,
        Err(wait) => {
            let said = "waiting for the provider's shared call budget";
            return wait_for(ctx, &run, now, wait, said).await;
        }
    };
    let calls = taken.calls;
    let slice = Slice {
        run_id: &run.id,
        plan: &plan,
        budget: SLICE_BUDGET,
        calls,
        now,
    };
    let outcome = run_slice(
        &store,
        &WorkerFetcher {
            deadline_ms: taken.deadline_ms,
        },
        &R2Blobs(bucket),
        source.as_ref(),
        &slice,
    )
    .await;
    // Calls granted but never sent go back for other customers' slices.
    taken.settle(ctx.env, outcome.progress().calls).await;
    match outcome {
        SliceOutcome::Done(_) => end(ctx, &run, &rec, "succeeded", "", "", None).await,
        SliceOutcome::More(_) => {
            runs::release(&ctx.db, &run.id, "running", &rec.id)
                .await
                .map_err(db_error)?;
            send(ctx.env, &run.id, 0).await
        }
        SliceOutcome::RateLimited(_, wait) => {
            let wait = wait
                .unwrap_or(Duration::seconds(60))
                .max(Duration::seconds(1));
            // The provider's count wins: no customer calls until then.
            taken.close(ctx.env, (now + wait).timestamp()).await?;
            let said = "the provider is rate limiting requests; waiting as it asked";
            wait_for(ctx, &run, now, wait, said).await
        }
        SliceOutcome::Retry(progress, reason) => {
            if run.attempts as u32 + 1 >= plan::MAX_ATTEMPTS {
                let status = if run.pages > 0 || progress.pages > 0 {
                    "partial"
                } else {
                    "failed"
                };
                return end(ctx, &run, &rec, status, "provider", &reason, None).await;
            }
            retry_later(ctx, &run, now, "provider", &reason).await
        }
        SliceOutcome::Unauthorized(_, reason)
            if oauth && run.error_class.as_deref() != Some(UNAUTHORIZED_ONCE) =>
        {
            // The access token may have been revoked early: one forced
            // refresh, straight away, before giving up on the grant.
            let said = format!("the provider refused the access token ({reason}); refreshing it");
            runs::postpone(
                &ctx.db,
                &run,
                &timestamp(now),
                false,
                UNAUTHORIZED_ONCE,
                &said,
            )
            .await
            .map_err(db_error)?;
            send(ctx.env, &run.id, 0).await
        }
        SliceOutcome::Unauthorized(_, reason) => {
            let (said, status) = if oauth {
                (
                    format!("the provider refused the authorisation even after a refresh: {reason}; reconnect"),
                    Status::ReauthRequired,
                )
            } else {
                (
                    format!("the provider refused the credentials: {reason}"),
                    Status::Error,
                )
            };
            end(
                ctx,
                &run,
                &rec,
                "failed",
                "unauthorized",
                &said,
                Some(status.as_str()),
            )
            .await
        }
        SliceOutcome::Rejected(_, reason) => {
            end(ctx, &run, &rec, "failed", "rejected", &reason, None).await
        }
    }
}

/// The run waits for `wait` without counting a failure (the provider, or
/// its shared budget, asked).
async fn wait_for(
    ctx: &Ctx<'_>,
    run: &Run,
    now: DateTime<Utc>,
    wait: Duration,
    said: &str,
) -> Result<(), ApiError> {
    let at = timestamp(now + wait);
    runs::postpone(&ctx.db, run, &at, true, "rate_limited", said)
        .await
        .map_err(db_error)?;
    send(ctx.env, &run.id, wait.num_seconds() as u32).await
}

/// A failed slice waits, with exponential backoff and jitter, counted as a
/// failed attempt.
async fn retry_later(
    ctx: &Ctx<'_>,
    run: &Run,
    now: DateTime<Utc>,
    class: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let wait = plan::retry_backoff(run.attempts as u32, &run.id);
    runs::postpone(&ctx.db, run, &timestamp(now + wait), false, class, reason)
        .await
        .map_err(db_error)?;
    send(ctx.env, &run.id, wait.num_seconds() as u32).await
}

/// A message the queue gave up on (delivered to the dead-letter queue after
/// its retries): its run ends `failed` with the reason, and the datasource
/// moves on to its next sync.
pub async fn abandon(ctx: &Ctx<'_>, message: &SyncMessage) -> Result<(), ApiError> {
    let Some((run, rec)) = claim(ctx, message).await? else {
        return Ok(()); // finished meanwhile, or deleted
    };
    let said = "the sync queue gave up on this run after repeated failures to process it";
    end(ctx, &run, &rec, "failed", "poisoned", said, None).await
}

/// Ends a run: the datasource's next sync is scheduled (with jitter), and
/// repeated failures over days pause it until the user re-enables it.
async fn end(
    ctx: &Ctx<'_>,
    run: &Run,
    rec: &Record,
    status: &str,
    class: &str,
    error: &str,
    datasource_status: Option<&str>,
) -> Result<(), ApiError> {
    let now = ctx.now();
    let failed = status != "succeeded";
    let failures = if failed { rec.sync_failures + 1 } else { 0 };
    let since = rec
        .sync_failing_since
        .as_deref()
        .and_then(parse_timestamp)
        .unwrap_or(now);
    let pause = (failed
        && failures >= i64::from(plan::PAUSE_AFTER_FAILURES)
        && now - since >= plan::PAUSE_AFTER_SPAN)
        .then(|| {
            format!(
                "paused after {failures} failed syncs in a row: {error}; re-enable it to resume"
            )
        });
    let f = Finish {
        status,
        error_class: failed.then_some(class),
        error: failed.then_some(error),
        now: &timestamp(now),
        next_sync_at: &timestamp(plan::next_sync_at(now, rec.sync_frequency_minutes, &rec.id)),
        datasource_status,
        pause: pause.as_deref(),
        failed,
    };
    runs::finish(&ctx.db, run, &f).await.map_err(db_error)?;
    Ok(())
}
