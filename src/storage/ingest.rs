//! Data people send (uploaded files, typed readings): the run that records
//! it, its records and the coverage it adds, in one D1 batch, so a file is
//! stored whole or not at all.

use std::collections::BTreeMap;

use carbon_core::datasources::timestamp;
use carbon_core::sync::engine::PageWrite;
use carbon_core::sync::run::{Run, RUN_COLUMNS};
use carbon_core::sync::ActivityRecord;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Entry};
use super::sync::{D1SyncStore, CHUNK};
use super::{opt_text, text, Db};

pub struct Ingest<'a> {
    pub run_id: &'a str,
    /// `upload` or `manual`.
    pub trigger: &'a str,
    /// SHA-256 of the bytes received (raw copy in R2).
    pub sha256: &'a str,
    /// Its audit entry, written in the same batch.
    pub audit: &'a Entry<'a>,
    pub records: &'a [ActivityRecord],
    pub now: DateTime<Utc>,
}

/// The datasource's latest run of this trigger that took data, when it
/// took these same bytes: sending them again is that run. (Only the latest:
/// a file re-sent after a different one is a correction back, and applies.)
pub async fn repeated(
    db: &Db,
    datasource_id: &str,
    trigger: &str,
    sha256: &str,
) -> worker::Result<Option<Run>> {
    db.prepare(format!(
        "SELECT {RUN_COLUMNS} FROM (SELECT * FROM sync_runs WHERE datasource_id = ?1 AND trigger = ?2 \
         AND upload_sha256 IS NOT NULL ORDER BY queued_at DESC, rowid DESC LIMIT 1) WHERE upload_sha256 = ?3"
    ))
    .bind(&[text(datasource_id), text(trigger), text(sha256)])?
    .first::<Run>(None)
    .await
}

/// Stores the records as a finished run, with its audit entry; returns the
/// run with its counts.
pub async fn ingest(store: &D1SyncStore<'_>, i: &Ingest<'_>) -> worker::Result<Run> {
    let db = store.db;
    let now = timestamp(i.now);
    let from = i
        .records
        .iter()
        .map(|r| r.period_start)
        .min()
        .map(timestamp);
    let to = i.records.iter().map(|r| r.period_end).max().map(timestamp);
    let mut statements = vec![db
        .prepare(
            "INSERT INTO sync_runs (id, datasource_id, user_id, trigger, mode, status, period_from, period_to, \
             horizon_start, queued_at, started_at, finished_at, pages, upload_sha256) \
             VALUES (?1, ?2, ?3, ?4, 'full', 'succeeded', ?5, ?6, ?5, ?7, ?7, ?7, 1, ?8)",
        )
        .bind(&[
            text(i.run_id),
            text(store.datasource_id),
            text(store.user_id),
            text(i.trigger),
            opt_text(from.as_deref()),
            text(to.as_deref().unwrap_or(&now)),
            text(&now),
            text(i.sha256),
        ])?];
    let page = PageWrite {
        run_id: i.run_id,
        stream: "",
        records: i.records,
        position: i.now,
        token: None,
        watermark: None,
        done: true,
        raw_sha256: i.sha256,
        now: i.now,
    };
    statements.push(store.page_statement(i.sha256, i.run_id, &now)?);
    for chunk in i.records.chunks(CHUNK) {
        statements.extend(store.chunk_statements(&page, chunk, &now)?);
    }
    // Coverage per reference, as a provider's streams have it.
    let mut spans: BTreeMap<&str, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for r in i.records {
        let span = spans
            .entry(r.stream.as_str())
            .or_insert((r.period_start, r.period_end));
        span.0 = span.0.min(r.period_start);
        span.1 = span.1.max(r.period_end);
    }
    let spans: Vec<_> = spans
        .into_iter()
        .map(|(s, (a, b))| json!({"s": s, "a": timestamp(a), "b": timestamp(b)}))
        .collect();
    statements.push(
        db.prepare(
            "INSERT INTO sync_streams (datasource_id, stream, spec, first_period, cursor, run_id, position, done, updated_at) \
             SELECT ?1, json_extract(value, '$.s'), ?2, json_extract(value, '$.a'), json_extract(value, '$.b'), ?3, \
             json_extract(value, '$.b'), 1, ?4 FROM json_each(?5) WHERE true \
             ON CONFLICT (datasource_id, stream) DO UPDATE SET \
             first_period = MIN(COALESCE(first_period, excluded.first_period), excluded.first_period), \
             cursor = MAX(COALESCE(cursor, ''), excluded.cursor), run_id = excluded.run_id, \
             position = excluded.position, done = 1, updated_at = excluded.updated_at",
        )
        .bind(&[
            text(store.datasource_id),
            text(&json!({"source": i.trigger}).to_string()),
            text(i.run_id),
            text(&now),
            text(&serde_json::Value::Array(spans).to_string()),
        ])?,
    );
    statements.push(
        db.prepare(
            "UPDATE datasources SET last_synced_at = ?1, updated_at = ?1, sync_failures = 0, \
             sync_failing_since = NULL WHERE id = ?2",
        )
        .bind(&[text(&now), text(store.datasource_id)])?,
    );
    statements.push(
        db.prepare(format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = ?1"))
            .bind(&[text(i.run_id)])?,
    );
    statements.push(audit::insert(db, i.audit)?);
    let results = db.batch(statements).await?;
    results
        .iter()
        .rev()
        .nth(1)
        .and_then(|r| r.results::<Run>().ok())
        .and_then(|rows| rows.into_iter().next())
        .ok_or_else(|| worker::Error::RustError("the stored run was not read back".into()))
}
