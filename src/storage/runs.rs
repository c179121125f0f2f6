//! Sync runs and the datasource's sync state.

use carbon_core::datasources::Record;
use carbon_core::sync::run::{Run, RUN_COLUMNS};
use worker::wasm_bindgen::JsValue;

use super::datasources::COLUMNS;
use super::{changes, int, opt_text, text, Db};

pub struct NewRun<'a> {
    pub id: &'a str,
    pub datasource_id: &'a str,
    pub user_id: &'a str,
    pub trigger: &'a str,
    pub mode: &'a str,
    pub period_from: Option<&'a str>,
    pub period_to: &'a str,
    pub horizon_start: &'a str,
    pub now: &'a str,
}

/// Queues a run unless one is in progress (the unique partial index on
/// active runs decides, whoever asks at the same moment). `None`: refused.
pub async fn insert(db: &Db, r: &NewRun<'_>) -> worker::Result<Option<Run>> {
    let insert = db
        .prepare(format!(
            "INSERT INTO sync_runs (id, datasource_id, user_id, trigger, mode, status, period_from, period_to, \
             horizon_start, queued_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, ?9) \
             ON CONFLICT DO NOTHING RETURNING {RUN_COLUMNS}"
        ))
        .bind(&[
            text(r.id),
            text(r.datasource_id),
            text(r.user_id),
            text(r.trigger),
            text(r.mode),
            opt_text(r.period_from),
            text(r.period_to),
            text(r.horizon_start),
            text(r.now),
        ])?;
    let state = db
        .prepare(
            "UPDATE datasources SET sync_state = 'queued' WHERE id = ?1 \
             AND EXISTS (SELECT 1 FROM sync_runs WHERE id = ?2)",
        )
        .bind(&[text(r.datasource_id), text(r.id)])?;
    let results = db.batch(vec![insert, state]).await?;
    Ok(results[0].results::<Run>()?.into_iter().next())
}

/// The run in progress for a datasource.
pub async fn active(db: &Db, datasource_id: &str) -> worker::Result<Option<Run>> {
    db.prepare(format!(
        "SELECT {RUN_COLUMNS} FROM sync_runs WHERE datasource_id = ?1 AND status IN ('queued', 'running')"
    ))
    .bind(&[text(datasource_id)])?
    .first::<Run>(None)
    .await
}

pub async fn get(
    db: &Db,
    user_id: &str,
    datasource_id: &str,
    id: &str,
) -> worker::Result<Option<Run>> {
    db.prepare(format!(
        "SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = ?1 AND datasource_id = ?2 AND user_id = ?3 \
         AND EXISTS (SELECT 1 FROM datasources d WHERE d.id = ?2 AND d.deleted_at IS NULL)"
    ))
    .bind(&[text(id), text(datasource_id), text(user_id)])?
    .first::<Run>(None)
    .await
}

/// A datasource's runs, newest first, and how many there are.
pub async fn list(
    db: &Db,
    user_id: &str,
    datasource_id: &str,
    limit: u32,
    offset: u32,
) -> worker::Result<(Vec<Run>, u64)> {
    let page = db
        .prepare(format!(
            "SELECT {RUN_COLUMNS}, COUNT(*) OVER () AS total FROM sync_runs \
             WHERE datasource_id = ?1 AND user_id = ?2 ORDER BY queued_at DESC, rowid DESC LIMIT ?3 OFFSET ?4"
        ))
        .bind(&[
            text(datasource_id),
            text(user_id),
            int(limit.into()),
            int(offset.into()),
        ])?
        .all()
        .await?;
    let rows: Vec<serde_json::Value> = page.results()?;
    let total = rows.first().and_then(|r| r["total"].as_u64()).unwrap_or(0);
    let runs = rows
        .into_iter()
        .filter_map(|r| serde_json::from_value(r).ok())
        .collect();
    Ok((runs, total))
}

/// Takes the run for one slice (`until` = lease end) if nobody holds it.
/// The run and its datasource (which must still exist and be enabled).
pub async fn claim(
    db: &Db,
    run_id: &str,
    now: &str,
    until: &str,
) -> worker::Result<Option<(Run, Record)>> {
    let claimed = db
        .prepare(format!(
            "UPDATE sync_runs SET status = 'running', started_at = COALESCE(started_at, ?2), lease_until = ?3 \
             WHERE id = ?1 AND status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < ?2) \
             RETURNING {RUN_COLUMNS}"
        ))
        .bind(&[text(run_id), text(now), text(until)])?
        .first::<Run>(None)
        .await?;
    let Some(run) = claimed else {
        return Ok(None);
    };
    let rec = db
        .prepare(format!(
            "SELECT {COLUMNS} FROM datasources WHERE id = ?1 AND deleted_at IS NULL"
        ))
        .bind(&[text(&run.datasource_id)])?
        .first::<Record>(None)
        .await?;
    Ok(rec.map(|rec| (run, rec)))
}

/// After a slice that continues: the lease goes, the failure count resets.
pub async fn release(
    db: &Db,
    run_id: &str,
    state: &str,
    datasource_id: &str,
) -> worker::Result<()> {
    let run = db
        .prepare(
            "UPDATE sync_runs SET lease_until = NULL, attempts = 0, next_retry_at = NULL, error = NULL, \
             error_class = NULL WHERE id = ?1",
        )
        .bind(&[text(run_id)])?;
    let ds = db
        .prepare("UPDATE datasources SET sync_state = ?1, sync_retry_at = NULL WHERE id = ?2")
        .bind(&[text(state), text(datasource_id)])?;
    db.batch(vec![run, ds]).await?;
    Ok(())
}

/// A slice to be retried at `retry_at`: counted as a failure unless it was
/// the provider asking to wait (`rate_limited`).
pub async fn postpone(
    db: &Db,
    run: &Run,
    retry_at: &str,
    rate_limited: bool,
    error_class: &str,
    error: &str,
) -> worker::Result<()> {
    let attempts = if rate_limited {
        run.attempts
    } else {
        run.attempts + 1
    };
    let state = if rate_limited {
        "rate_limited"
    } else {
        "running"
    };
    let r = db
        .prepare(
            "UPDATE sync_runs SET lease_until = NULL, attempts = ?1, next_retry_at = ?2, error = ?3, \
             error_class = ?5 WHERE id = ?4",
        )
        .bind(&[
            int(attempts),
            text(retry_at),
            text(error),
            text(&run.id),
            text(error_class),
        ])?;
    let ds = db
        .prepare("UPDATE datasources SET sync_state = ?1, sync_retry_at = ?2 WHERE id = ?3")
        .bind(&[text(state), text(retry_at), text(&run.datasource_id)])?;
    db.batch(vec![r, ds]).await?;
    Ok(())
}

pub struct Finish<'a> {
    pub status: &'a str,
    pub error_class: Option<&'a str>,
    pub error: Option<&'a str>,
    pub now: &'a str,
    pub next_sync_at: &'a str,
    /// Set the datasource's connection status (e.g. `error` for a refused key).
    pub datasource_status: Option<&'a str>,
    /// Pause the datasource with this reason.
    pub pause: Option<&'a str>,
    pub failed: bool,
}

/// Ends a run and moves the datasource on: next run due, failures counted
/// or cleared, paused when asked.
pub async fn finish(db: &Db, run: &Run, f: &Finish<'_>) -> worker::Result<bool> {
    let r = db
        .prepare(
            "UPDATE sync_runs SET status = ?1, error_class = ?2, error = ?3, finished_at = ?4, lease_until = NULL, \
             next_retry_at = NULL WHERE id = ?5 AND status IN ('queued', 'running')",
        )
        .bind(&[
            text(f.status),
            opt_text(f.error_class),
            opt_text(f.error),
            text(f.now),
            text(&run.id),
        ])?;
    let failed = JsValue::from_f64(if f.failed { 1.0 } else { 0.0 });
    let ds = db
        .prepare(
            "UPDATE datasources SET next_sync_at = ?1, sync_retry_at = NULL, \
             last_synced_at = CASE WHEN ?2 THEN last_synced_at ELSE ?3 END, \
             sync_failures = CASE WHEN ?2 THEN sync_failures + 1 ELSE 0 END, \
             sync_failing_since = CASE WHEN ?2 THEN COALESCE(sync_failing_since, ?3) ELSE NULL END, \
             status = COALESCE(?4, status), last_error = CASE WHEN ?4 IS NULL THEN last_error ELSE ?6 END, \
             sync_state = CASE WHEN ?5 IS NULL THEN 'idle' ELSE 'paused' END, \
             paused_reason = ?5 WHERE id = ?7",
        )
        .bind(&[
            text(f.next_sync_at),
            failed,
            text(f.now),
            opt_text(f.datasource_status),
            opt_text(f.pause),
            opt_text(f.error),
            text(&run.datasource_id),
        ])?;
    let results = db.batch(vec![r, ds]).await?;
    Ok(changes(&results[0]) == 1)
}

/// Datasources whose next sync is due, of integrations that sync, oldest
/// first. (Those people feed, or that only connect, are never due: they
/// cannot crowd the syncing ones out of a tick.)
pub async fn due(db: &Db, now: &str, syncing: &[&str], limit: u32) -> worker::Result<Vec<Record>> {
    let ids = serde_json::to_string(syncing).unwrap_or_default();
    db.prepare(format!(
        "SELECT {COLUMNS} FROM datasources WHERE enabled = 1 AND deleted_at IS NULL AND status = 'active' \
         AND sync_state IN ('idle', 'rate_limited') AND (next_sync_at IS NULL OR next_sync_at <= ?1) \
         AND (sync_retry_at IS NULL OR sync_retry_at <= ?1) \
         AND integration_id IN (SELECT value FROM json_each(?3)) ORDER BY next_sync_at LIMIT ?2"
    ))
    .bind(&[text(now), int(limit.into()), text(&ids)])?
    .all()
    .await?
    .results()
}

/// One scheduled run to queue.
#[derive(serde::Serialize)]
pub struct Scheduled<'a> {
    #[serde(rename = "i")]
    pub run_id: String,
    #[serde(rename = "d")]
    pub datasource_id: &'a str,
    #[serde(rename = "u")]
    pub user_id: &'a str,
    /// The oldest data the run fetches (the datasource's horizon).
    #[serde(rename = "h")]
    pub horizon_start: String,
}

/// Queues scheduled runs for many datasources in two statements; a
/// datasource with a run in progress is skipped (the unique index on active
/// runs decides). Returns the ids of the runs queued.
pub async fn queue_many(
    db: &Db,
    runs: &[Scheduled<'_>],
    period_to: &str,
    now: &str,
) -> worker::Result<Vec<String>> {
    let json = serde_json::to_string(runs).unwrap_or_default();
    let insert = db
        .prepare(
            "INSERT INTO sync_runs (id, datasource_id, user_id, trigger, mode, status, period_to, horizon_start, queued_at) \
             SELECT json_extract(value, '$.i'), json_extract(value, '$.d'), json_extract(value, '$.u'), 'scheduled', \
             'incremental', 'queued', ?2, json_extract(value, '$.h'), ?3 FROM json_each(?1) WHERE true \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(&[text(&json), text(period_to), text(now)])?;
    let state = db
        .prepare(
            "UPDATE datasources SET sync_state = 'queued' WHERE id IN (SELECT r.datasource_id FROM sync_runs r \
             WHERE r.id IN (SELECT json_extract(value, '$.i') FROM json_each(?1)))",
        )
        .bind(&[text(&json)])?;
    let results = db.batch(vec![insert, state]).await?;
    #[derive(serde::Deserialize)]
    struct Id {
        id: String,
    }
    Ok(results[0]
        .results::<Id>()?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Runs whose message may have been lost (queued or leased long ago, and
/// not waiting for a retry): the cron sends them again.
pub async fn stalled(db: &Db, before: &str, now: &str, limit: u32) -> worker::Result<Vec<String>> {
    let rows: Vec<serde_json::Value> = db
        .prepare(
            "SELECT id FROM sync_runs WHERE status IN ('queued', 'running') AND queued_at < ?1 \
             AND (lease_until IS NULL OR lease_until < ?2) AND (next_retry_at IS NULL OR next_retry_at < ?1) \
             LIMIT ?3",
        )
        .bind(&[text(before), text(now), int(limit.into())])?
        .all()
        .await?
        .results()?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect())
}

/// Deletes finished runs that ended before `before`, a bounded number per
/// call (the maintenance cron comes back every hour).
pub async fn purge(db: &Db, before: &str) -> worker::Result<()> {
    let runs = db
        .prepare(
            "DELETE FROM sync_runs WHERE id IN (SELECT id FROM sync_runs WHERE status IN ('succeeded', 'partial', 'failed') \
             AND finished_at < ?1 LIMIT 5000)",
        )
        .bind(&[text(before)])?;
    // Discovery answers of runs that ended before their streams began.
    let discovery = db.prepare(
        "DELETE FROM sync_discovery WHERE run_id NOT IN \
         (SELECT id FROM sync_runs WHERE status IN ('queued', 'running'))",
    );
    db.batch(vec![runs, discovery]).await?;
    Ok(())
}

/// A datasource's streams, for its detail view.
pub async fn streams(
    db: &Db,
    datasource_id: &str,
) -> worker::Result<Vec<carbon_core::datasources::StreamView>> {
    db.prepare(
        "SELECT stream AS key, COALESCE(json_extract(spec, '$.kind'), json_extract(spec, '$.report'), \
         json_extract(spec, '$.source')) AS kind, first_period, cursor AS last_period, last_error, updated_at \
         FROM sync_streams WHERE datasource_id = ?1 ORDER BY stream LIMIT 500",
    )
    .bind(&[text(datasource_id)])?
    .all()
    .await?
    .results()
}
