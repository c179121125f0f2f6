//! The sync engine's storage in D1 (`carbon_core::sync::SyncStore`): streams
//! and their positions, and the atomic page write.
//!
//! A page is one D1 batch (one transaction): per chunk of records, the
//! run's counters (computed against what is stored before the upsert), then
//! the upsert by natural key; last, the stream's position and high-water
//! mark. Records travel as one JSON parameter per chunk (`json_each`), which
//! keeps well inside D1's 100 bound parameters and 100 KB of SQL per
//! statement, and under its 2 MB per value.

use carbon_core::datasources::{parse_timestamp, timestamp};
use carbon_core::sync::engine::{Discovered, PageCounts, PageWrite, StreamState, SyncStore};
use carbon_core::sync::plan::RunPlan;
use carbon_core::sync::ActivityRecord;
use serde::Deserialize;
use serde_json::json;
use worker::D1PreparedStatement;

use super::{opt_text, text, Db};

/// Records per JSON parameter: about 200 bytes each, so well under 2 MB.
const CHUNK: usize = 4_000;

pub struct D1SyncStore<'a> {
    pub db: &'a Db,
    pub datasource_id: &'a str,
    pub user_id: &'a str,
}

#[derive(Deserialize)]
struct StreamRow {
    stream: String,
    spec: String,
    cursor: Option<String>,
    run_id: Option<String>,
    position: Option<String>,
    done: i64,
}

fn records_json(records: &[ActivityRecord]) -> String {
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "t": r.activity_type.as_str(),
                "s": r.stream,
                "a": timestamp(r.period_start),
                "b": timestamp(r.period_end),
                "q": r.quantity,
                "u": r.unit,
                "e": i32::from(r.estimated),
                "r": r.region,
                "f": r.tariff,
                "c": r.conversion.as_ref().map(|c| c.to_string()),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The chunk's records as rows, for the statements below (`?1` = JSON).
const ROWS: &str = "SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.s') AS s, \
    json_extract(value, '$.a') AS a, json_extract(value, '$.b') AS b, json_extract(value, '$.q') AS q \
    FROM json_each(?1)";

impl D1SyncStore<'_> {
    /// What the chunk will insert, update and leave unchanged (`?1` JSON, `?2` datasource).
    fn counts_sql() -> String {
        format!(
            "SELECT COALESCE(SUM(a.id IS NULL), 0) AS inserted, \
             COALESCE(SUM(a.id IS NOT NULL AND a.quantity IS NOT j.q), 0) AS updated, \
             COALESCE(SUM(a.id IS NOT NULL AND a.quantity IS j.q), 0) AS unchanged \
             FROM ({ROWS}) j LEFT JOIN activity_data a ON a.datasource_id = ?2 AND a.activity_type = j.t \
             AND a.source_ref = j.s AND a.period_start = j.a AND a.period_end = j.b"
        )
    }

    fn chunk_statements(
        &self,
        page: &PageWrite<'_>,
        chunk: &[ActivityRecord],
        now: &str,
    ) -> worker::Result<Vec<D1PreparedStatement>> {
        let json = records_json(chunk);
        let counts = self
            .db
            .prepare(Self::counts_sql())
            .bind(&[text(&json), text(self.datasource_id)])?;
        let run = self
            .db
            .prepare(format!(
                "UPDATE sync_runs SET inserted = sync_runs.inserted + c.inserted, \
                 updated = sync_runs.updated + c.updated, unchanged = sync_runs.unchanged + c.unchanged \
                 FROM ({}) AS c WHERE sync_runs.id = ?3",
                Self::counts_sql()
            ))
            .bind(&[text(&json), text(self.datasource_id), text(page.run_id)])?;
        let upsert = self
            .db
            .prepare(
                "INSERT INTO activity_data (id, datasource_id, user_id, activity_type, source_ref, period_start, \
                 period_end, quantity, unit, estimated, region, tariff, conversion, raw_sha256, sync_log_id, \
                 created_at, updated_at) \
                 SELECT 'ad_' || lower(hex(randomblob(12))), ?2, ?3, json_extract(value, '$.t'), \
                 json_extract(value, '$.s'), json_extract(value, '$.a'), json_extract(value, '$.b'), \
                 json_extract(value, '$.q'), json_extract(value, '$.u'), json_extract(value, '$.e'), \
                 json_extract(value, '$.r'), json_extract(value, '$.f'), json_extract(value, '$.c'), ?4, ?5, ?6, ?6 \
                 FROM json_each(?1) WHERE true \
                 ON CONFLICT (datasource_id, activity_type, source_ref, period_start, period_end) DO UPDATE SET \
                 previous_quantity = activity_data.quantity, quantity = excluded.quantity, restated_at = ?6, \
                 raw_sha256 = excluded.raw_sha256, sync_log_id = excluded.sync_log_id, \
                 conversion = excluded.conversion, tariff = excluded.tariff, region = excluded.region, \
                 estimated = excluded.estimated, updated_at = ?6 \
                 WHERE activity_data.quantity IS NOT excluded.quantity",
            )
            .bind(&[
                text(&json),
                text(self.datasource_id),
                text(self.user_id),
                text(page.raw_sha256),
                text(page.run_id),
                text(now),
            ])?;
        Ok(vec![counts, run, upsert])
    }
}

impl SyncStore for D1SyncStore<'_> {
    async fn streams(&self, run_id: &str) -> Result<Vec<StreamState>, String> {
        let rows: Vec<StreamRow> = self
            .db
            .prepare(
                "SELECT stream, spec, cursor, run_id, position, done FROM sync_streams \
                 WHERE datasource_id = ?1 ORDER BY stream",
            )
            .bind(&[text(self.datasource_id)])
            .map_err(|e| e.to_string())?
            .all()
            .await
            .and_then(|r| r.results())
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let this_run = r.run_id.as_deref() == Some(run_id);
                StreamState {
                    key: r.stream,
                    spec: serde_json::from_str(&r.spec).unwrap_or_default(),
                    cursor: r.cursor.as_deref().and_then(parse_timestamp),
                    position: this_run
                        .then(|| r.position.as_deref().and_then(parse_timestamp))
                        .flatten(),
                    done: this_run && r.done != 0,
                }
            })
            .collect())
    }

    async fn begin_streams(
        &self,
        run_id: &str,
        found: &[Discovered],
        plan: &RunPlan,
    ) -> Result<(), String> {
        let known = self.streams(run_id).await?;
        let now = timestamp(crate::clock::now());
        let mut statements = Vec::new();
        for d in found {
            let current = known.iter().find(|s| s.key == d.key);
            if current.is_some_and(|s| s.position.is_some()) {
                continue; // already started in this run
            }
            let start = timestamp(plan.start_for(current.and_then(|s| s.cursor)));
            statements.push(
                self.db
                    .prepare(
                        "INSERT INTO sync_streams (datasource_id, stream, spec, run_id, position, done, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6) ON CONFLICT (datasource_id, stream) DO UPDATE SET \
                         spec = excluded.spec, run_id = excluded.run_id, position = excluded.position, done = 0, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(&[
                        text(self.datasource_id),
                        text(&d.key),
                        text(&d.spec.to_string()),
                        text(run_id),
                        text(&start),
                        text(&now),
                    ])
                    .map_err(|e| e.to_string())?,
            );
        }
        if statements.is_empty() {
            return Ok(());
        }
        self.db
            .batch(statements)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn apply_page(&self, page: &PageWrite<'_>) -> Result<PageCounts, String> {
        let now = timestamp(page.now);
        let mut statements = Vec::new();
        for chunk in page.records.chunks(CHUNK) {
            statements.extend(
                self.chunk_statements(page, chunk, &now)
                    .map_err(|e| e.to_string())?,
            );
        }
        let newest = page
            .records
            .iter()
            .map(|r| r.period_end)
            .max()
            .map(timestamp);
        let oldest = page
            .records
            .iter()
            .map(|r| r.period_start)
            .min()
            .map(timestamp);
        let stream = self
            .db
            .prepare(
                "UPDATE sync_streams SET position = MAX(COALESCE(position, ''), ?1), done = (done OR ?2), \
                 cursor = CASE WHEN ?3 IS NULL THEN cursor ELSE MAX(COALESCE(cursor, ''), ?3) END, \
                 first_period = CASE WHEN ?4 IS NULL THEN first_period \
                   WHEN first_period IS NULL THEN ?4 ELSE MIN(first_period, ?4) END, \
                 last_error = NULL, updated_at = ?5 \
                 WHERE datasource_id = ?6 AND stream = ?7 AND run_id = ?8",
            )
            .bind(&[
                text(&timestamp(page.position)),
                worker::wasm_bindgen::JsValue::from_f64(if page.done { 1.0 } else { 0.0 }),
                opt_text(newest.as_deref()),
                opt_text(oldest.as_deref()),
                text(&now),
                text(self.datasource_id),
                text(page.stream),
                text(page.run_id),
            ])
            .map_err(|e| e.to_string())?;
        let pages = self
            .db
            .prepare("UPDATE sync_runs SET pages = pages + 1 WHERE id = ?1")
            .bind(&[text(page.run_id)])
            .map_err(|e| e.to_string())?;
        statements.push(stream);
        statements.push(pages);
        let results = self.db.batch(statements).await.map_err(|e| e.to_string())?;
        let mut counts = PageCounts::default();
        for result in results
            .iter()
            .step_by(3)
            .take(page.records.len().div_ceil(CHUNK))
        {
            #[derive(Deserialize)]
            struct Counts {
                inserted: u64,
                updated: u64,
                unchanged: u64,
            }
            if let Some(c) = result
                .results::<Counts>()
                .ok()
                .and_then(|r| r.into_iter().next())
            {
                counts.inserted += c.inserted;
                counts.updated += c.updated;
                counts.unchanged += c.unchanged;
            }
        }
        Ok(counts)
    }
}
