//! Emission lines, written in the same D1 batch as the activity values they
//! come from: the factor rows (`carbon_core::emissions::rows`) are upserted,
//! then every (series, UTC day) the chunk touched is recomputed from its
//! stored values: the day's summed quantity times each line's factor, or
//! for regional lines each half-hour times its intensity. The same
//! statement recomputes a datasource (new factors, changed settings, new
//! grid intensity). A line recomputed to a different figure keeps what it
//! was (`previous_kgco2e`, `restated_at`); an unchanged one is not
//! rewritten.

use std::collections::BTreeSet;

use carbon_core::emissions::factors::fingerprint;
use carbon_core::emissions::lines::Settings;
use carbon_core::emissions::rows::{self, Kind, REGIONAL_CHOICE, REGIONAL_FACTOR_ID};
use carbon_core::sync::record::ActivityType;
use serde_json::Value;
use worker::D1PreparedStatement;

use super::sync::JOINED;
use super::{int, text, Db};

/// A recomputed line is restated when its figure moved for the same values
/// (a corrected reading) or a new factor; a day that gains values is being
/// completed, not restated (the activity values say which were corrected).
const RESTATED: &str = "(emission_lines.kgco2e IS NOT excluded.kgco2e AND \
    (emission_lines.value_count IS excluded.value_count OR emission_lines.factor IS NOT excluded.factor))";

/// The factor rows as bound (`carbon_core::emissions::rows`), with the
/// regional rows when a line may take the regional intensity.
fn rows_json(kinds: &BTreeSet<Kind>, settings: &Settings) -> String {
    let mut rows = rows::factor_rows(kinds, settings);
    if let (Some(list), Value::Array(regional)) = (rows.as_array_mut(), rows::regional_rows()) {
        if list.iter().any(|r| r["rg"].as_u64().unwrap_or(0) > 0) {
            list.extend(regional);
        }
    }
    rows.to_string()
}

/// Upserts the factor rows (`?1`).
fn factors_sql() -> &'static str {
    "INSERT INTO emission_factors (factor_id, line, scope, category, method, reference, edition, \
     edition_choice, unit, factor, co2, ch4, n2o) \
     SELECT json_extract(value, '$.fid'), json_extract(value, '$.l'), json_extract(value, '$.sc'), \
     json_extract(value, '$.ca'), json_extract(value, '$.m'), json_extract(value, '$.ref'), \
     json_extract(value, '$.ed'), json_extract(value, '$.ch'), json_extract(value, '$.fu'), \
     json_extract(value, '$.f'), json_extract(value, '$.g1'), json_extract(value, '$.g2'), \
     json_extract(value, '$.g3') FROM json_each(?1) WHERE true \
     ON CONFLICT (factor_id, line, edition_choice, factor) DO UPDATE SET scope = excluded.scope, \
     category = excluded.category, method = excluded.method, reference = excluded.reference, \
     edition = excluded.edition, unit = excluded.unit, co2 = excluded.co2, ch4 = excluded.ch4, n2o = excluded.n2o \
     WHERE emission_factors.scope IS NOT excluded.scope OR emission_factors.category IS NOT excluded.category \
     OR emission_factors.method IS NOT excluded.method OR emission_factors.reference IS NOT excluded.reference \
     OR emission_factors.edition IS NOT excluded.edition OR emission_factors.unit IS NOT excluded.unit \
     OR emission_factors.co2 IS NOT excluded.co2 OR emission_factors.ch4 IS NOT excluded.ch4 \
     OR emission_factors.n2o IS NOT excluded.n2o"
}

/// Recomputes the lines of every (series, UTC day) `days` yields (columns
/// stream, t, u, d, region, day) whole from the stored values, with the
/// factor rows `?3`, at `?4`. A line that may be regional takes the
/// region's half-hourly intensity when every value of the day (each at
/// most a half-hour) has one: the sum of each value times its intensity.
fn lines_sql(days: &str) -> String {
    format!(
        "INSERT INTO emission_lines (stream, day, line, factor, quantity, value_count, kgco2e) \
         SELECT stream, day, l, CASE WHEN covered THEN alt ELSE ef END, q, n, \
           CASE WHEN covered AND rg = 1 THEN qi / 1000.0 WHEN covered THEN 0.0 ELSE q * f END \
         FROM (SELECT d.stream AS stream, d.day AS day, fx.l AS l, fx.rg AS rg, fx.f AS f, ef.id AS ef, \
           alt.id AS alt, SUM(a.quantity) AS q, COUNT(*) AS n, \
           SUM(a.quantity * COALESCE(g.actual, g.forecast)) AS qi, \
           (alt.id IS NOT NULL AND COUNT(g.period_start) = COUNT(*)) AS covered \
         FROM ({days}) d \
         JOIN activity a ON a.stream = d.stream AND a.period_start >= d.day AND a.period_start < d.day + 86400 \
         JOIN (SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.u') AS u, \
           json_extract(value, '$.d') AS d, json_extract(value, '$.y') AS y, json_extract(value, '$.l') AS l, \
           json_extract(value, '$.fid') AS fid, json_extract(value, '$.ch') AS ch, \
           json_extract(value, '$.f') AS f, json_extract(value, '$.rg') AS rg FROM json_each(?3)) fx \
           ON fx.t = d.t AND fx.u = d.u AND (fx.d IS NULL OR fx.d = d.d) \
           AND fx.y = CAST(strftime('%Y', d.day, 'unixepoch') AS INTEGER) \
         JOIN emission_factors ef ON ef.factor_id = fx.fid AND ef.line = fx.l \
           AND ef.edition_choice = fx.ch AND ef.factor = fx.f \
         LEFT JOIN emission_factors alt ON fx.rg > 0 AND alt.factor_id = '{REGIONAL_FACTOR_ID}' \
           AND alt.line = fx.l AND alt.edition_choice = '{REGIONAL_CHOICE}' AND alt.factor = 0 \
         LEFT JOIN grid_intensity g ON fx.rg > 0 AND a.seconds <= 1800 AND g.region = d.region \
           AND g.period_start = a.period_start - (a.period_start % 1800) \
           AND COALESCE(g.actual, g.forecast) IS NOT NULL \
         WHERE true GROUP BY d.stream, d.day, fx.l) WHERE true \
         ON CONFLICT (stream, day, line) DO UPDATE SET \
         previous_kgco2e = CASE WHEN {RESTATED} THEN emission_lines.kgco2e ELSE emission_lines.previous_kgco2e END, \
         restated_at = CASE WHEN {RESTATED} THEN ?4 ELSE emission_lines.restated_at END, \
         kgco2e = excluded.kgco2e, factor = excluded.factor, quantity = excluded.quantity, \
         value_count = excluded.value_count \
         WHERE emission_lines.kgco2e IS NOT excluded.kgco2e OR emission_lines.factor IS NOT excluded.factor \
         OR emission_lines.value_count IS NOT excluded.value_count OR emission_lines.quantity IS NOT excluded.quantity"
    )
}

/// The statements for a chunk (`records` its JSON as the activity upsert
/// binds it; `settings` the datasource's, parsed and as stored), after its
/// upsert in the same batch: its (series, UTC day)s recomputed whole, and
/// the lines marked stale if the settings changed since they were read.
pub fn chunk_statements(
    db: &Db,
    chunk: &[carbon_core::sync::ActivityRecord],
    records: &str,
    datasource_id: &str,
    settings: (&Settings, &str),
    now: &str,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let rows = rows_json(&rows::kinds(chunk), settings.0);
    let params = [text(records), text(datasource_id), text(&rows), text(now)];
    let factors = db.prepare(factors_sql()).bind(&[text(&rows)])?;
    let days = format!(
        "SELECT DISTINCT st.id AS stream, st.activity_type AS t, st.unit AS u, st.detail AS d, \
         CAST(st.region AS INTEGER) AS region, j.a - (j.a % 86400) AS day FROM {JOINED}"
    );
    let lines = db.prepare(lines_sql(&days)).bind(&params)?;
    let guard = stale_if_settings_moved(db, datasource_id, settings.1)?;
    Ok(vec![factors, lines, guard])
}

/// A chunk that gives a series a region it did not have (or another) marks
/// the datasource's lines for recomputing whole: its history may now take
/// the regional intensity. Runs before the series upsert, in its batch.
pub fn region_moved(
    db: &Db,
    records: &str,
    datasource_id: &str,
) -> worker::Result<D1PreparedStatement> {
    db.prepare(
        "UPDATE datasources SET emissions_dirty_from = 0 WHERE id = ?2 AND EXISTS (SELECT 1 FROM json_each(?1) j \
         JOIN activity_streams st ON st.datasource_id = ?2 AND st.activity_type = json_extract(j.value, '$.t') \
         AND st.source_ref = json_extract(j.value, '$.s') AND st.detail = json_extract(j.value, '$.d') \
         AND st.unit = json_extract(j.value, '$.u') \
         WHERE json_extract(j.value, '$.r') IS NOT NULL AND st.region IS NOT json_extract(j.value, '$.r'))",
    )
    .bind(&[text(records), text(datasource_id)])
}

/// Lines written under `settings` (as read before the write) are stale if
/// the datasource's settings changed since: the cron recomputes them.
fn stale_if_settings_moved(
    db: &Db,
    datasource_id: &str,
    settings: &str,
) -> worker::Result<D1PreparedStatement> {
    db.prepare(
        "UPDATE datasources SET emissions_basis = NULL WHERE id = ?1 AND settings IS NOT ?2 \
         AND emissions_basis IS NOT NULL",
    )
    .bind(&[text(datasource_id), text(settings)])
}

/// Recomputes a datasource's lines from day `from` (unix s) on under its
/// settings and the current factors, and records the basis, clearing the
/// dirty mark only if it is still the one read (`dirty`).
pub async fn recompute(
    db: &Db,
    datasource_id: &str,
    settings_json: &str,
    from: i64,
    dirty: Option<i64>,
    now: &str,
) -> worker::Result<()> {
    let value = serde_json::from_str(settings_json).unwrap_or_default();
    let settings = &Settings::from_json(&value);
    #[derive(serde::Deserialize)]
    struct K {
        t: String,
        u: String,
        d: String,
        y: i32,
    }
    let found: Vec<K> = db
        .prepare(
            "SELECT DISTINCT st.activity_type AS t, st.unit AS u, st.detail AS d, \
             CAST(strftime('%Y', a.period_start, 'unixepoch') AS INTEGER) AS y \
             FROM activity_streams st JOIN activity a ON a.stream = st.id \
             WHERE st.datasource_id = ?1 AND a.period_start >= ?2",
        )
        .bind(&[text(datasource_id), int(from)])?
        .all()
        .await?
        .results()?;
    let kinds: BTreeSet<Kind> = found
        .iter()
        .filter_map(|k| Some(rows::kind(ActivityType::parse(&k.t)?, &k.u, &k.d, k.y)))
        .collect();
    let rows = rows_json(&kinds, settings);
    let params = [int(from), text(datasource_id), text(&rows), text(now)];
    let days =
        "SELECT DISTINCT st.id AS stream, st.activity_type AS t, st.unit AS u, st.detail AS d, \
         CAST(st.region AS INTEGER) AS region, a.period_start - (a.period_start % 86400) AS day \
         FROM activity_streams st JOIN activity a ON a.stream = st.id \
         WHERE st.datasource_id = ?2 AND a.period_start >= ?1";
    let basis = db
        .prepare(
            "UPDATE datasources SET emissions_basis = CASE WHEN settings IS ?4 THEN ?1 ELSE NULL END, \
             emissions_dirty_from = CASE WHEN emissions_dirty_from IS ?3 THEN NULL ELSE emissions_dirty_from END \
             WHERE id = ?2",
        )
        .bind(&[
            text(fingerprint()),
            text(datasource_id),
            dirty.map(int).unwrap_or(worker::wasm_bindgen::JsValue::NULL),
            text(settings_json),
        ])?;
    // Lines no rule gives any more (a mapping or rule removed) go.
    let gone = db
        .prepare(
            "DELETE FROM emission_lines WHERE day >= ?1 - (?1 % 86400) \
             AND stream IN (SELECT id FROM activity_streams WHERE datasource_id = ?2) \
             AND NOT EXISTS (SELECT 1 FROM activity_streams st, json_each(?3) fx \
               WHERE st.id = emission_lines.stream AND json_extract(fx.value, '$.t') = st.activity_type \
               AND json_extract(fx.value, '$.u') = st.unit \
               AND (json_extract(fx.value, '$.d') IS NULL OR json_extract(fx.value, '$.d') = st.detail) \
               AND json_extract(fx.value, '$.y') = CAST(strftime('%Y', emission_lines.day, 'unixepoch') AS INTEGER) \
               AND json_extract(fx.value, '$.l') = emission_lines.line)",
        )
        .bind(&[int(from), text(datasource_id), text(&rows)])?;
    // The settings were read before the batch: if they moved meanwhile, the
    // basis stays unset and the cron recomputes under the new ones.
    db.batch(vec![
        db.prepare(factors_sql()).bind(&[text(&rows)])?,
        gone,
        db.prepare(lines_sql(days)).bind(&params)?,
        basis,
    ])
    .await?;
    Ok(())
}

/// A datasource whose lines need recomputing: computed under another
/// factor set, or with new grid intensity since.
#[derive(serde::Deserialize)]
pub struct Stale {
    pub id: String,
    pub settings: String,
    pub emissions_basis: Option<String>,
    pub emissions_dirty_from: Option<i64>,
}

pub async fn stale(db: &Db, limit: u32) -> worker::Result<Vec<Stale>> {
    db.prepare(
        "SELECT id, settings, emissions_basis, emissions_dirty_from FROM datasources \
         WHERE deleted_at IS NULL AND (emissions_basis IS NOT ?1 OR emissions_dirty_from IS NOT NULL) \
         AND EXISTS (SELECT 1 FROM activity_streams st WHERE st.datasource_id = datasources.id) \
         ORDER BY emissions_dirty_from IS NULL, created_at LIMIT ?2",
    )
    .bind(&[text(fingerprint()), int(limit.into())])?
    .all()
    .await?
    .results()
}

/// Grid intensity of `region` changed at `updated` (the refresh's time,
/// as the upsert stamps changed rows): datasources with values there from
/// the first changed half-hour's day on are marked for recomputing.
pub fn mark_regional(db: &Db, region: u8, updated: i64) -> worker::Result<D1PreparedStatement> {
    db.prepare(
        "WITH c AS (SELECT MIN(period_start) - (MIN(period_start) % 86400) AS day FROM grid_intensity \
           WHERE region = ?1 AND updated_at = ?2) \
         UPDATE datasources SET emissions_dirty_from = MIN(COALESCE(emissions_dirty_from, c.day), c.day) \
         FROM c WHERE c.day IS NOT NULL AND datasources.id IN (SELECT st.datasource_id FROM activity_streams st \
           WHERE st.activity_type = 'electricity_import' AND CAST(st.region AS INTEGER) = ?1 \
           AND EXISTS (SELECT 1 FROM activity a WHERE a.stream = st.id AND a.period_start >= c.day))",
    )
    .bind(&[int(region.into()), int(updated)])
}

/// Totals per group over the lines whose value starts in `[from, to)`,
/// from the user's datasources that are not deleted.
pub async fn summary(
    db: &Db,
    user_id: &str,
    q: &carbon_core::emissions::summary::SummaryQuery,
) -> worker::Result<Vec<carbon_core::emissions::summary::Totals>> {
    use carbon_core::emissions::summary::GroupBy;
    let group = match q.group_by {
        GroupBy::Month => "strftime('%Y-%m', l.day, 'unixepoch')",
        GroupBy::Scope => "CASE WHEN f.scope = 0 THEN 'avoided' ELSE 'scope_' || f.scope END",
        GroupBy::Category => "f.category",
        GroupBy::Datasource => "st.datasource_id",
    };
    let mut params = vec![
        text(user_id),
        worker::wasm_bindgen::JsValue::from_f64(q.from.timestamp() as f64),
        worker::wasm_bindgen::JsValue::from_f64(q.to.timestamp() as f64),
    ];
    let mut filter = String::from(
        "st.user_id = ?1 AND l.day >= ?2 AND l.day < ?3 AND st.datasource_id IN \
         (SELECT id FROM datasources WHERE user_id = ?1 AND deleted_at IS NULL)",
    );
    if let Some(id) = &q.datasource_id {
        params.push(text(id));
        filter.push_str(" AND st.datasource_id = ?4");
    }
    let sql = format!(
        "SELECT {group} AS \"group\", \
         TOTAL(CASE WHEN f.scope = 1 THEN l.kgco2e END) AS scope_1, \
         TOTAL(CASE WHEN f.scope = 2 AND f.method = 'location' THEN l.kgco2e END) AS scope_2_location, \
         TOTAL(CASE WHEN f.scope = 2 AND f.method = 'market' THEN l.kgco2e END) AS scope_2_market, \
         TOTAL(CASE WHEN f.scope = 3 THEN l.kgco2e END) AS scope_3, \
         TOTAL(CASE WHEN f.scope = 0 THEN l.kgco2e END) AS avoided, \
         TOTAL(CASE WHEN f.scope = 3 AND f.method = 'spend_based' THEN l.kgco2e END) AS scope_3_spend_based, \
         TOTAL(CASE WHEN f.scope = 3 AND f.method = 'estimate' THEN l.kgco2e END) AS scope_3_estimated, \
         COUNT(*) AS lines \
         FROM activity_streams st JOIN emission_lines l ON l.stream = st.id \
         JOIN emission_factors f ON f.id = l.factor WHERE {filter} GROUP BY 1 ORDER BY 1"
    );
    db.prepare(sql).bind(&params)?.all().await?.results()
}

/// The user's lines whose day starts in `[from, to)`, with their factors.
pub async fn lines(
    db: &Db,
    user_id: &str,
    q: &carbon_core::emissions::list::LinesQuery,
) -> worker::Result<(Vec<carbon_core::emissions::list::LineRow>, u64)> {
    let mut params = vec![
        text(user_id),
        int(q.from.timestamp()),
        int(q.to.timestamp()),
    ];
    let mut filter = String::from(
        "st.user_id = ?1 AND l.day >= ?2 AND l.day < ?3 AND st.datasource_id IN \
         (SELECT id FROM datasources WHERE user_id = ?1 AND deleted_at IS NULL)",
    );
    if let Some(id) = &q.datasource_id {
        params.push(text(id));
        filter.push_str(&format!(" AND st.datasource_id = ?{}", params.len()));
    }
    if let Some(scope) = q.scope {
        params.push(int(scope.into()));
        filter.push_str(&format!(" AND f.scope = ?{}", params.len()));
    }
    for (column, value) in [("category", &q.category), ("method", &q.method)] {
        if let Some(v) = value {
            params.push(text(v));
            filter.push_str(&format!(" AND f.{column} = ?{}", params.len()));
        }
    }
    const FROM: &str = "activity_streams st JOIN emission_lines l ON l.stream = st.id \
                        JOIN emission_factors f ON f.id = l.factor";
    #[derive(serde::Deserialize)]
    struct Count {
        n: u64,
    }
    let count = db
        .prepare(format!("SELECT COUNT(*) AS n FROM {FROM} WHERE {filter}"))
        .bind(&params)?;
    let (limit, offset) = super::activity::page_params(&mut params, &q.page);
    let rows = db
        .prepare(format!(
            "SELECT st.datasource_id, st.source_ref AS reference, st.activity_type, st.unit, \
             strftime('%Y-%m-%d', l.day, 'unixepoch') AS day, l.line, f.scope, f.category, f.method, \
             l.quantity, l.value_count, l.kgco2e, l.previous_kgco2e, l.restated_at, f.factor_id, \
             f.reference AS factor_ref, f.edition, f.edition_choice, \
             CASE WHEN f.factor_id = '{REGIONAL_FACTOR_ID}' AND l.quantity <> 0 THEN l.kgco2e / l.quantity \
               ELSE f.factor END AS factor, f.unit AS factor_unit, \
             l.quantity * f.co2 AS co2_kgco2e, l.quantity * f.ch4 AS ch4_kgco2e, l.quantity * f.n2o AS n2o_kgco2e, \
             (SELECT group_concat(sha256) FROM (SELECT DISTINCT p.sha256 FROM activity a JOIN raw_pages p ON p.id = a.page \
               WHERE a.stream = l.stream AND a.period_start >= l.day AND a.period_start < l.day + 86400 ORDER BY 1)) AS raw_sha256 \
             FROM {FROM} WHERE {filter} ORDER BY st.id, l.day, l.line LIMIT ?{limit} OFFSET ?{offset}"
        ))
        .bind(&params)?;
    let total = count.first::<Count>(None).await?.map(|c| c.n).unwrap_or(0);
    let data = rows.all().await?.results()?;
    Ok((data, total))
}
