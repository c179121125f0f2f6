//! The sync engine's storage in D1 (`carbon_core::sync::SyncStore`): streams
//! and their positions, and the atomic page write.
//!
//! A page is one D1 batch (one transaction): the raw page's row, then per
//! chunk of records their series (`activity_streams`) and tariff codes
//! (`tariffs`), the run's counters
//! (computed against what is stored before the upsert) and the upsert of
//! the values by natural key (series, start, length); last, the stream's
//! position and high-water mark. Records travel as one JSON parameter per chunk (`json_each`), which
//! keeps well inside D1's 100 bound parameters and 100 KB of SQL per
//! statement, and under its 2 MB per value.

use carbon_core::datasources::{parse_timestamp, timestamp};
use carbon_core::providers::HttpResponse;
use carbon_core::sync::engine::{Discovered, PageCounts, PageWrite, StreamState, SyncStore};
use carbon_core::sync::plan::RunPlan;
use carbon_core::sync::ActivityRecord;
use serde::Deserialize;
use serde_json::json;
use worker::D1PreparedStatement;

use super::{opt_text, text, Db};

/// Records per JSON parameter: about 200 bytes each, so well under 2 MB.
pub(super) const CHUNK: usize = 4_000;

pub struct D1SyncStore<'a> {
    pub db: &'a Db,
    pub datasource_id: &'a str,
    pub user_id: &'a str,
    /// How the datasource's emissions are computed (market instrument,
    /// pinned edition): lines are written with the values.
    pub emissions: &'a carbon_core::emissions::lines::Settings,
    /// The settings as read when `emissions` was (the stored JSON): if they
    /// change while this writes, its lines are marked for recomputing.
    pub settings: &'a str,
}

#[derive(Deserialize)]
struct StreamRow {
    stream: String,
    spec: String,
    cursor: Option<String>,
    run_id: Option<String>,
    position: Option<String>,
    page_token: Option<String>,
    done: i64,
}

fn records_json(records: &[ActivityRecord]) -> String {
    let rows: Vec<_> = records
        .iter()
        .map(|r| {
            json!({
                "t": r.activity_type.as_str(),
                "d": r.detail,
                "s": r.stream,
                "u": r.unit,
                "r": r.region,
                "a": r.period_start.timestamp(),
                "n": (r.period_end - r.period_start).num_seconds(),
                "q": r.quantity,
                "e": i32::from(r.estimated),
                "f": r.tariff,
                "c": r.conversion.as_ref().map(|c| c.to_string()),
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The chunk's records joined to their series (`?1` = JSON, `?2` = datasource).
pub(super) const JOINED: &str = "(SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.d') AS d, \
    json_extract(value, '$.s') AS s, json_extract(value, '$.u') AS u, json_extract(value, '$.a') AS a, \
    json_extract(value, '$.n') AS n, json_extract(value, '$.q') AS q, json_extract(value, '$.e') AS e, \
    json_extract(value, '$.f') AS f, json_extract(value, '$.c') AS c FROM json_each(?1)) j \
    JOIN activity_streams st ON st.datasource_id = ?2 AND st.activity_type = j.t AND st.source_ref = j.s \
    AND st.detail = j.d AND st.unit = j.u";

/// A stored value differs from the new one: it is rewritten (and, when the
/// quantity moved, restated).
const DIFFERS: &str = "(a.quantity IS NOT j.q OR a.estimated IS NOT j.e)";

impl D1SyncStore<'_> {
    /// What the chunk will insert, update and leave unchanged.
    fn counts_sql() -> String {
        format!(
            "SELECT COALESCE(SUM(a.stream IS NULL), 0) AS inserted, \
             COALESCE(SUM(a.stream IS NOT NULL AND {DIFFERS}), 0) AS updated, \
             COALESCE(SUM(a.stream IS NOT NULL AND NOT {DIFFERS}), 0) AS unchanged \
             FROM {JOINED} LEFT JOIN activity a ON a.stream = st.id AND a.period_start = j.a AND a.seconds = j.n"
        )
    }

    /// The raw page the values come from (`?1` sha256), once per sha.
    pub(super) fn page_statement(
        &self,
        sha256: &str,
        run_id: &str,
        now: &str,
    ) -> worker::Result<D1PreparedStatement> {
        self.db
            .prepare(
                "INSERT INTO raw_pages (sha256, run_id, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&[text(sha256), text(run_id), text(now)])
    }

    /// Four statements: the chunk's series and tariff codes, the run's
    /// counters (computed against what is stored before the upsert), the
    /// upsert.
    pub(super) fn chunk_statements(
        &self,
        page: &PageWrite<'_>,
        chunk: &[ActivityRecord],
        now: &str,
    ) -> worker::Result<Vec<D1PreparedStatement>> {
        let json = records_json(chunk);
        let streams = self
            .db
            .prepare(
                "INSERT INTO activity_streams (datasource_id, user_id, activity_type, source_ref, detail, unit, region, created_at) \
                 SELECT DISTINCT ?2, ?3, json_extract(value, '$.t'), json_extract(value, '$.s'), json_extract(value, '$.d'), \
                 json_extract(value, '$.u'), json_extract(value, '$.r'), ?4 FROM json_each(?1) WHERE true \
                 ON CONFLICT (datasource_id, activity_type, source_ref, detail, unit) DO UPDATE SET region = excluded.region \
                 WHERE excluded.region IS NOT NULL AND excluded.region IS NOT activity_streams.region",
            )
            .bind(&[text(&json), text(self.datasource_id), text(self.user_id), text(now)])?;
        let tariffs = self
            .db
            .prepare(
                "INSERT INTO tariffs (code) SELECT DISTINCT json_extract(value, '$.f') FROM json_each(?1) \
                 WHERE json_extract(value, '$.f') IS NOT NULL ON CONFLICT (code) DO NOTHING",
            )
            .bind(&[text(&json)])?;
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
                "INSERT INTO activity (stream, period_start, seconds, quantity, estimated, page, tariff, conversion) \
                 SELECT st.id, j.a, j.n, j.q, j.e, (SELECT id FROM raw_pages WHERE sha256 = ?3), \
                 (SELECT id FROM tariffs WHERE code = j.f), j.c \
                 FROM "
                    .to_owned()
                    + JOINED
                    + " WHERE true ON CONFLICT (stream, period_start, seconds) DO UPDATE SET \
                 previous_quantity = CASE WHEN activity.quantity IS NOT excluded.quantity THEN activity.quantity \
                   ELSE activity.previous_quantity END, \
                 restated_at = CASE WHEN activity.quantity IS NOT excluded.quantity THEN ?4 ELSE activity.restated_at END, \
                 quantity = excluded.quantity, estimated = excluded.estimated, page = excluded.page, \
                 tariff = excluded.tariff, conversion = excluded.conversion \
                 WHERE activity.quantity IS NOT excluded.quantity OR activity.estimated IS NOT excluded.estimated",
            )
            .bind(&[
                text(&json),
                text(self.datasource_id),
                text(page.raw_sha256),
                text(now),
            ])?;
        let moved = super::emissions::region_moved(self.db, &json, self.datasource_id)?;
        let mut all = vec![moved, streams, tariffs, run, upsert];
        all.extend(super::emissions::chunk_statements(
            self.db,
            chunk,
            &json,
            self.datasource_id,
            (self.emissions, self.settings),
            now,
        )?);
        Ok(all)
    }
}

/// The run's counters, read before and after a page's statements: their
/// difference is what the page did.
pub(super) fn counters(db: &Db, run_id: &str) -> worker::Result<D1PreparedStatement> {
    db.prepare("SELECT inserted, updated, unchanged FROM sync_runs WHERE id = ?1")
        .bind(&[text(run_id)])
}

#[derive(Deserialize, Default)]
struct Counters {
    inserted: u64,
    updated: u64,
    unchanged: u64,
}

fn read_counters(result: Option<&worker::D1Result>) -> Counters {
    result
        .and_then(|r| r.results::<Counters>().ok())
        .and_then(|r| r.into_iter().next())
        .unwrap_or_default()
}

/// What happened between two [`counters`] reads.
pub(super) fn page_counts(
    before: Option<&worker::D1Result>,
    after: Option<&worker::D1Result>,
) -> PageCounts {
    let (b, a) = (read_counters(before), read_counters(after));
    PageCounts {
        inserted: a.inserted.saturating_sub(b.inserted),
        updated: a.updated.saturating_sub(b.updated),
        unchanged: a.unchanged.saturating_sub(b.unchanged),
    }
}

impl SyncStore for D1SyncStore<'_> {
    async fn streams(&self, run_id: &str) -> Result<Vec<StreamState>, String> {
        let rows: Vec<StreamRow> = self
            .db
            .prepare(
                "SELECT stream, spec, cursor, run_id, position, page_token, done FROM sync_streams \
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
                    token: r.page_token.filter(|_| this_run),
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
                         spec = excluded.spec, run_id = excluded.run_id, position = excluded.position, page_token = NULL, done = 0, \
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
        statements.push(
            self.db
                .prepare("DELETE FROM sync_discovery WHERE run_id = ?1")
                .bind(&[text(run_id)])
                .map_err(|e| e.to_string())?,
        );
        self.db
            .batch(statements)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn discovery(&self, run_id: &str) -> Result<Vec<HttpResponse>, String> {
        super::discovery::load(self.db, run_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn keep_discovery(
        &self,
        run_id: &str,
        seq: usize,
        resp: &HttpResponse,
    ) -> Result<(), String> {
        super::discovery::keep(self.db, run_id, seq, resp)
            .await
            .map_err(|e| e.to_string())
    }

    async fn stream_failed(&self, stream: &str, error: &str) -> Result<(), String> {
        self.db
            .prepare(
                "UPDATE sync_streams SET last_error = ?1, updated_at = ?2 WHERE datasource_id = ?3 AND stream = ?4",
            )
            .bind(&[
                text(error),
                text(&timestamp(crate::clock::now())),
                text(self.datasource_id),
                text(stream),
            ])
            .map_err(|e| e.to_string())?
            .run()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn apply_page(&self, page: &PageWrite<'_>) -> Result<PageCounts, String> {
        let now = timestamp(page.now);
        let mut statements = vec![counters(self.db, page.run_id).map_err(|e| e.to_string())?];
        if !page.records.is_empty() {
            statements.push(
                self.page_statement(page.raw_sha256, page.run_id, &now)
                    .map_err(|e| e.to_string())?,
            );
        }
        for chunk in page.records.chunks(CHUNK) {
            statements.extend(
                self.chunk_statements(page, chunk, &now)
                    .map_err(|e| e.to_string())?,
            );
        }
        let newest = match page.watermark {
            Some(w) => Some(timestamp(w)),
            None => page
                .records
                .iter()
                .map(|r| r.period_end)
                .max()
                .map(timestamp),
        };
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
                 last_error = NULL, updated_at = ?5, page_token = ?9 \
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
                opt_text(page.token),
            ])
            .map_err(|e| e.to_string())?;
        let pages = self
            .db
            .prepare("UPDATE sync_runs SET pages = pages + 1 WHERE id = ?1")
            .bind(&[text(page.run_id)])
            .map_err(|e| e.to_string())?;
        statements.push(stream);
        statements.push(pages);
        statements.push(counters(self.db, page.run_id).map_err(|e| e.to_string())?);
        let results = self.db.batch(statements).await.map_err(|e| e.to_string())?;
        Ok(page_counts(results.first(), results.last()))
    }
}
