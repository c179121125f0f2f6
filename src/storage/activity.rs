//! Reading activity: raw values, or sums by day or month. Every query walks
//! a user's series (`activity_streams`) and then each series' values on
//! the primary key (series, start).

use carbon_core::activity::{ActivityQuery, Bucket, Granularity};
use carbon_core::query::Page;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;

use super::{int, text, Db};

/// One stored value as read.
#[derive(Debug, Deserialize)]
struct ValueRow {
    stream: i64,
    datasource_id: String,
    activity_type: String,
    detail: String,
    source_ref: String,
    unit: String,
    region: Option<String>,
    period_start: i64,
    seconds: i64,
    quantity: f64,
    estimated: f64,
    tariff: Option<String>,
    conversion: Option<String>,
    previous_quantity: Option<f64>,
    restated_at: Option<String>,
    raw_sha256: String,
    run_id: String,
}

/// One stored value, as the API shows it.
#[derive(Debug, Serialize)]
pub struct ActivityValue {
    pub id: String,
    pub datasource_id: String,
    pub activity_type: String,
    pub detail: String,
    pub reference: String,
    pub period_start: String,
    pub period_end: String,
    pub quantity: f64,
    pub unit: String,
    pub estimated: bool,
    pub region: Option<String>,
    pub tariff: Option<String>,
    pub restated: bool,
    pub previous_quantity: Option<f64>,
    pub restated_at: Option<String>,
    pub conversion: Option<serde_json::Value>,
    pub raw_sha256: String,
    pub run_id: String,
}

fn iso(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(carbon_core::datasources::timestamp)
        .unwrap_or_default()
}

impl From<ValueRow> for ActivityValue {
    fn from(r: ValueRow) -> Self {
        ActivityValue {
            id: format!("av_{}_{}_{}", r.stream, r.period_start, r.seconds),
            datasource_id: r.datasource_id,
            activity_type: r.activity_type,
            detail: r.detail,
            reference: r.source_ref,
            period_start: iso(r.period_start),
            period_end: iso(r.period_start + r.seconds),
            quantity: r.quantity,
            unit: r.unit,
            estimated: r.estimated != 0.0,
            region: r.region,
            tariff: r.tariff,
            restated: r.restated_at.is_some(),
            previous_quantity: r.previous_quantity,
            restated_at: r.restated_at,
            conversion: r.conversion.and_then(|c| serde_json::from_str(&c).ok()),
            raw_sha256: r.raw_sha256,
            run_id: r.run_id,
        }
    }
}

#[derive(Deserialize)]
struct Total {
    n: u64,
}

/// The series and their values.
const FROM: &str = "activity_streams st JOIN activity a ON a.stream = st.id";

/// The WHERE clause over [`FROM`], with its parameters (`?1` is the user).
fn filter(user_id: &str, q: &ActivityQuery) -> (String, Vec<JsValue>) {
    let mut sql = String::from(
        "st.user_id = ?1 AND a.period_start >= ?2 AND a.period_start < ?3 AND st.datasource_id IN \
         (SELECT id FROM datasources WHERE user_id = ?1 AND deleted_at IS NULL)",
    );
    let mut params = vec![
        text(user_id),
        int(q.from.timestamp()),
        int(q.to.timestamp()),
    ];
    if let Some(d) = &q.datasource_id {
        params.push(text(d));
        sql.push_str(&format!(" AND st.datasource_id = ?{}", params.len()));
    }
    if let Some(t) = q.activity_type {
        params.push(text(t.as_str()));
        sql.push_str(&format!(" AND st.activity_type = ?{}", params.len()));
    }
    (sql, params)
}

/// Appends a page's LIMIT and OFFSET parameters; returns their numbers.
pub(super) fn page_params(params: &mut Vec<JsValue>, page: &Page) -> (usize, usize) {
    params.push(int(page.per_page.into()));
    params.push(int(page.offset().into()));
    (params.len() - 1, params.len())
}

pub async fn raw(
    db: &Db,
    user_id: &str,
    q: &ActivityQuery,
) -> worker::Result<(Vec<ActivityValue>, u64)> {
    let (filter, mut params) = filter(user_id, q);
    let count = db
        .prepare(format!("SELECT COUNT(*) AS n FROM {FROM} WHERE {filter}"))
        .bind(&params)?;
    let (limit, offset) = page_params(&mut params, &q.page);
    let rows = db
        .prepare(format!(
            "SELECT st.id AS stream, st.datasource_id, st.activity_type, st.detail, st.source_ref, st.unit, st.region, \
             a.period_start, a.seconds, a.quantity, a.estimated, t.code AS tariff, a.conversion, a.previous_quantity, \
             a.restated_at, p.sha256 AS raw_sha256, p.run_id FROM {FROM} JOIN raw_pages p ON p.id = a.page \
             LEFT JOIN tariffs t ON t.id = a.tariff \
             WHERE {filter} ORDER BY st.id, a.period_start LIMIT ?{limit} OFFSET ?{offset}"
        ))
        .bind(&params)?;
    let results = db.batch(vec![count, rows]).await?;
    let total = results[0].results::<Total>()?.first().map_or(0, |t| t.n);
    let rows: Vec<ValueRow> = results[1].results()?;
    Ok((rows.into_iter().map(ActivityValue::from).collect(), total))
}

pub async fn buckets(
    db: &Db,
    user_id: &str,
    q: &ActivityQuery,
) -> worker::Result<(Vec<Bucket>, u64)> {
    let (filter, mut params) = filter(user_id, q);
    let format = if q.granularity == Granularity::Month {
        "%Y-%m"
    } else {
        "%Y-%m-%d"
    };
    let spans = q.summer_spans();
    let shift = if spans.is_empty() {
        "'+0 hours'".to_owned()
    } else {
        // UK time: an hour ahead inside a summer-time span.
        params.push(text(&serde_json::to_string(&spans).unwrap_or_default()));
        format!(
            "'+' || (SELECT COUNT(*) FROM json_each(?{}) WHERE a.period_start >= json_extract(value, '$[0]') \
             AND a.period_start < json_extract(value, '$[1]')) || ' hours'",
            params.len()
        )
    };
    let grouped = format!(
        "SELECT strftime('{format}', a.period_start, 'unixepoch', {shift}) AS period, st.datasource_id, \
         st.activity_type, st.detail, st.unit, SUM(a.quantity) AS quantity, COUNT(*) AS records, \
         SUM(a.estimated) AS estimated_records FROM {FROM} WHERE {filter} \
         GROUP BY period, st.datasource_id, st.activity_type, st.detail, st.unit"
    );
    let count = db
        .prepare(format!("SELECT COUNT(*) AS n FROM ({grouped})"))
        .bind(&params)?;
    let (limit, offset) = page_params(&mut params, &q.page);
    let rows = db
        .prepare(format!(
            "{grouped} ORDER BY period, st.datasource_id, st.activity_type, st.detail, st.unit \
             LIMIT ?{limit} OFFSET ?{offset}"
        ))
        .bind(&params)?;
    let results = db.batch(vec![count, rows]).await?;
    let total = results[0].results::<Total>()?.first().map_or(0, |t| t.n);
    Ok((results[1].results()?, total))
}
