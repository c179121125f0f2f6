//! Emission lines, written in the same D1 batch as the activity values they
//! come from: the factor rows (`carbon_core::emissions::rows`) are upserted,
//! then every (series, UTC day) the chunk touched is recomputed from its
//! stored values: the day's summed quantity times each line's factor. A
//! line recomputed to a different figure keeps what it was
//! (`previous_kgco2e`, `restated_at`); an unchanged one is not rewritten.

use worker::D1PreparedStatement;

use super::sync::JOINED;
use super::{int, text, Db};

/// A recomputed line is restated when its figure moved for the same values
/// (a corrected reading) or a new factor; a day that gains values is being
/// completed, not restated (the activity values say which were corrected).
const RESTATED: &str = "(emission_lines.kgco2e IS NOT excluded.kgco2e AND \
    (emission_lines.value_count IS excluded.value_count OR emission_lines.factor IS NOT excluded.factor))";

/// Two statements for a chunk (`records` the chunk's JSON as the activity
/// upsert binds it, `rows` its factor rows).
pub fn chunk_statements(
    db: &Db,
    records: &str,
    datasource_id: &str,
    rows: &str,
    now: &str,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let factors = db
        .prepare(
            "INSERT INTO emission_factors (factor_id, line, scope, category, method, reference, edition, \
             edition_choice, unit, factor, co2, ch4, n2o) \
             SELECT json_extract(value, '$.fid'), json_extract(value, '$.l'), json_extract(value, '$.sc'), \
             json_extract(value, '$.ca'), json_extract(value, '$.m'), json_extract(value, '$.ref'), \
             json_extract(value, '$.ed'), json_extract(value, '$.ch'), json_extract(value, '$.fu'), \
             json_extract(value, '$.f'), json_extract(value, '$.g1'), json_extract(value, '$.g2'), \
             json_extract(value, '$.g3') FROM json_each(?1) WHERE true \
             ON CONFLICT (factor_id, line, edition_choice, factor) DO NOTHING",
        )
        .bind(&[text(rows)])?;
    // The chunk's (series, UTC day)s, each recomputed whole from the
    // stored values (after the chunk's upsert, in the same batch).
    let sql = format!(
        "INSERT INTO emission_lines (stream, day, line, factor, quantity, value_count, kgco2e) \
         SELECT d.stream, d.day, fx.l, ef.id, SUM(a.quantity), COUNT(*), SUM(a.quantity) * fx.f \
         FROM (SELECT DISTINCT st.id AS stream, st.activity_type AS t, st.unit AS u, \
           j.a - (j.a % 86400) AS day FROM {JOINED}) d \
         JOIN activity a ON a.stream = d.stream AND a.period_start >= d.day AND a.period_start < d.day + 86400 \
         JOIN (SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.u') AS u, \
           json_extract(value, '$.y') AS y, json_extract(value, '$.l') AS l, \
           json_extract(value, '$.fid') AS fid, json_extract(value, '$.ch') AS ch, \
           json_extract(value, '$.f') AS f FROM json_each(?3)) fx \
           ON fx.t = d.t AND fx.u = d.u AND fx.y = CAST(strftime('%Y', d.day, 'unixepoch') AS INTEGER) \
         JOIN emission_factors ef ON ef.factor_id = fx.fid AND ef.line = fx.l \
           AND ef.edition_choice = fx.ch AND ef.factor = fx.f \
         WHERE true GROUP BY d.stream, d.day, fx.l \
         ON CONFLICT (stream, day, line) DO UPDATE SET \
         previous_kgco2e = CASE WHEN {RESTATED} THEN emission_lines.kgco2e ELSE emission_lines.previous_kgco2e END, \
         restated_at = CASE WHEN {RESTATED} THEN ?4 ELSE emission_lines.restated_at END, \
         kgco2e = excluded.kgco2e, factor = excluded.factor, quantity = excluded.quantity, \
         value_count = excluded.value_count \
         WHERE emission_lines.kgco2e IS NOT excluded.kgco2e OR emission_lines.factor IS NOT excluded.factor \
         OR emission_lines.value_count IS NOT excluded.value_count"
    );
    // The chunk's (series, UTC day)s, each recomputed whole from the
    // stored values (after the chunk's upsert, in the same batch).
    let lines =
        db.prepare(sql)
            .bind(&[text(records), text(datasource_id), text(rows), text(now)])?;
    Ok(vec![factors, lines])
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
        GroupBy::Scope => "'scope_' || f.scope",
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
         TOTAL(CASE WHEN f.scope = 3 THEN l.kgco2e END) AS scope_3, COUNT(*) AS lines \
         FROM activity_streams st JOIN emission_lines l ON l.stream = st.id \
         JOIN emission_factors f ON f.id = l.factor WHERE {filter} GROUP BY 1 ORDER BY 1"
    );
    db.prepare(sql).bind(&params)?.all().await?.results()
}

/// The user's lines whose day starts in `[from, to)`, with their factors.
pub async fn lines(
    db: &Db,
    user_id: &str,
    q: &carbon_core::emissions::summary::LinesQuery,
) -> worker::Result<(Vec<carbon_core::emissions::summary::LineRow>, u64)> {
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
             f.reference AS factor_ref, f.edition, f.edition_choice, f.factor, f.unit AS factor_unit \
             FROM {FROM} WHERE {filter} ORDER BY st.id, l.day, l.line LIMIT ?{limit} OFFSET ?{offset}"
        ))
        .bind(&params)?;
    let total = count.first::<Count>(None).await?.map(|c| c.n).unwrap_or(0);
    let data = rows.all().await?.results()?;
    Ok((data, total))
}
