//! Webhook endpoints (sealed secrets), accepted deliveries (once per id)
//! and counts of refused ones.

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;

use super::{audit, changes, opt_text, text, Db};

/// An endpoint as its owner sees it: never its secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: String,
    pub datasource_id: String,
    /// The path segment of its URL (`/api/v1/webhooks/generic/{source}`).
    pub source: String,
    /// That URL's path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_path: Option<String>,
    pub created_at: String,
    pub rotated_at: Option<String>,
    /// Until when the secret it replaced still verifies.
    pub previous_until: Option<String>,
}

/// An endpoint with its sealed secrets, for verifying a delivery.
#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub datasource_id: String,
    pub user_id: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<String>,
}

const VIEW: &str = "id, datasource_id, source, created_at, rotated_at, previous_until";

pub struct NewEndpoint<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub datasource_id: &'a str,
    pub user_id: &'a str,
    pub sealed: &'a str,
    pub now: &'a str,
}

pub async fn insert(db: &Db, e: &NewEndpoint<'_>, entry: &audit::Entry<'_>) -> worker::Result<()> {
    let insert = db
        .prepare(
            "INSERT INTO webhook_endpoints (id, source, datasource_id, user_id, secret, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&[
            text(e.id),
            text(e.source),
            text(e.datasource_id),
            text(e.user_id),
            text(e.sealed),
            text(e.now),
        ])?;
    db.batch(vec![insert, audit::insert(db, entry)?]).await?;
    Ok(())
}

pub async fn list(
    db: &Db,
    user_id: &str,
    datasource_id: &str,
) -> worker::Result<Vec<EndpointView>> {
    db.prepare(format!(
        "SELECT {VIEW} FROM webhook_endpoints WHERE user_id = ?1 AND datasource_id = ?2 \
         AND deleted_at IS NULL ORDER BY created_at, id"
    ))
    .bind(&[text(user_id), text(datasource_id)])?
    .all()
    .await?
    .results()
}

/// The user's live endpoint, with its sealed secrets.
pub async fn owned(
    db: &Db,
    user_id: &str,
    datasource_id: &str,
    id: &str,
) -> worker::Result<Option<Endpoint>> {
    db.prepare(
        "SELECT id, datasource_id, user_id, secret, previous_secret, previous_until FROM webhook_endpoints \
         WHERE id = ?1 AND user_id = ?2 AND datasource_id = ?3 AND deleted_at IS NULL",
    )
    .bind(&[text(id), text(user_id), text(datasource_id)])?
    .first(None)
    .await
}

/// The live endpoint a delivery's URL names.
pub async fn by_source(db: &Db, source: &str) -> worker::Result<Option<Endpoint>> {
    db.prepare(
        "SELECT e.id, e.datasource_id, e.user_id, e.secret, e.previous_secret, e.previous_until \
         FROM webhook_endpoints e JOIN datasources d ON d.id = e.datasource_id \
         WHERE e.source = ?1 AND e.deleted_at IS NULL AND d.deleted_at IS NULL",
    )
    .bind(&[text(source)])?
    .first(None)
    .await
}

/// Replaces the secret; the old one verifies until `until`. False if the
/// endpoint changed meanwhile (compare-and-swap on the sealed secret).
pub async fn rotate(
    db: &Db,
    e: &Endpoint,
    sealed: &str,
    until: &str,
    now: &str,
    entry: &audit::Entry<'_>,
) -> worker::Result<bool> {
    let update = db
        .prepare(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?1, secret = ?2, rotated_at = ?3 \
             WHERE id = ?4 AND secret = ?5 AND deleted_at IS NULL",
        )
        .bind(&[text(until), text(sealed), text(now), text(&e.id), text(&e.secret)])?;
    let results = db.batch(vec![update, audit::insert(db, entry)?]).await?;
    Ok(changes(&results[0]) == 1)
}

/// Deletes an endpoint: its secrets are destroyed at once.
pub async fn delete(
    db: &Db,
    e: &Endpoint,
    now: &str,
    entry: &audit::Entry<'_>,
) -> worker::Result<()> {
    let update = db
        .prepare(
            "UPDATE webhook_endpoints SET deleted_at = ?1, secret = '', previous_secret = NULL, previous_until = NULL \
             WHERE id = ?2 AND deleted_at IS NULL",
        )
        .bind(&[text(now), text(&e.id)])?;
    db.batch(vec![update, audit::insert(db, entry)?]).await?;
    Ok(())
}

/// A delivery as recorded.
pub struct Delivery<'a> {
    pub source: &'a str,
    pub scope: &'a str,
    pub delivery_id: &'a str,
    pub datasource_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub payload_sha256: &'a str,
    pub outcome: &'a str,
    pub now: &'a str,
}

impl<'a> Delivery<'a> {
    /// A delivery for one datasource, being processed.
    pub fn for_datasource(
        source: &'a str,
        scope: &'a str,
        delivery_id: &'a str,
        rec: &'a carbon_core::datasources::Record,
        payload_sha256: &'a str,
        now: &'a str,
    ) -> Self {
        Delivery {
            source,
            scope,
            delivery_id,
            datasource_id: Some(&rec.id),
            user_id: Some(&rec.user_id),
            payload_sha256,
            outcome: "processing",
            now,
        }
    }
}

/// What claiming a delivery id found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First seen (or a claim abandoned past its lease, taken over): process it.
    Claimed,
    /// Processed already: acknowledge, do nothing.
    Done,
    /// Another attempt is processing it now: the sender should retry later.
    InFlight,
}

/// How long a claim in `processing` holds before a retry may take it over
/// (an attempt that died between its claim and its outcome).
pub const CLAIM_LEASE_SECS: i64 = 60;

/// Claims a delivery id, in one round trip: inserted if new; taken over if
/// its earlier claim was abandoned (still `processing` past the lease);
/// else reported done or in flight.
pub async fn claim(db: &Db, d: &Delivery<'_>, stale_before: &str) -> worker::Result<Claim> {
    let insert = db
        .prepare(
            "INSERT INTO webhook_deliveries (source, scope, delivery_id, datasource_id, user_id, received_at, \
             payload_sha256, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (source, scope, delivery_id) DO NOTHING",
        )
        .bind(&[
            text(d.source),
            text(d.scope),
            text(d.delivery_id),
            opt_text(d.datasource_id),
            opt_text(d.user_id),
            text(d.now),
            text(d.payload_sha256),
            text(d.outcome),
        ])?;
    let take_over = db
        .prepare(
            "UPDATE webhook_deliveries SET received_at = ?4, payload_sha256 = ?5 \
             WHERE source = ?1 AND scope = ?2 AND delivery_id = ?3 AND outcome = 'processing' AND received_at < ?6",
        )
        .bind(&[
            text(d.source),
            text(d.scope),
            text(d.delivery_id),
            text(d.now),
            text(d.payload_sha256),
            text(stale_before),
        ])?;
    let state = db
        .prepare("SELECT outcome FROM webhook_deliveries WHERE source = ?1 AND scope = ?2 AND delivery_id = ?3")
        .bind(&[text(d.source), text(d.scope), text(d.delivery_id)])?;
    let results = db.batch(vec![insert, take_over, state]).await?;
    if changes(&results[0]) == 1 || changes(&results[1]) == 1 {
        return Ok(Claim::Claimed);
    }
    #[derive(Deserialize)]
    struct Row {
        outcome: String,
    }
    let rows: Vec<Row> = results[2].results()?;
    Ok(match rows.first().map(|r| r.outcome.as_str()) {
        Some("processing") => Claim::InFlight,
        _ => Claim::Done,
    })
}

/// What became of a claimed delivery.
pub async fn settle(
    db: &Db,
    d: &Delivery<'_>,
    outcome: &str,
    detail: Option<&str>,
    run_id: Option<&str>,
) -> worker::Result<()> {
    db.prepare(
        "UPDATE webhook_deliveries SET outcome = ?1, detail = ?2, run_id = ?3 \
         WHERE source = ?4 AND scope = ?5 AND delivery_id = ?6",
    )
    .bind(&[
        text(outcome),
        opt_text(detail),
        opt_text(run_id),
        text(d.source),
        text(d.scope),
        text(d.delivery_id),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Gives a claim back (its processing failed): a retry is processed.
pub async fn release(db: &Db, d: &Delivery<'_>) -> worker::Result<()> {
    db.prepare(
        "DELETE FROM webhook_deliveries WHERE source = ?1 AND scope = ?2 AND delivery_id = ?3",
    )
    .bind(&[text(d.source), text(d.scope), text(d.delivery_id)])?
    .run()
    .await?;
    Ok(())
}

/// Counts a refused delivery (nothing else of it is kept).
pub async fn refused(
    db: &Db,
    source: &str,
    scope: &str,
    reason: &str,
    day: &str,
) -> worker::Result<()> {
    db.prepare(
        "INSERT INTO webhook_refusals (source, scope, reason, day, count) VALUES (?1, ?2, ?3, ?4, 1) \
         ON CONFLICT (source, scope, reason, day) DO UPDATE SET count = count + 1",
    )
    .bind(&[text(source), text(scope), text(reason), text(day)])?
    .run()
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub source: String,
    pub delivery_id: String,
    pub received_at: String,
    pub payload_sha256: String,
    pub outcome: String,
    pub detail: Option<String>,
    pub run_id: Option<String>,
}

/// A datasource's recent deliveries, newest first.
pub async fn deliveries(
    db: &Db,
    user_id: &str,
    datasource_id: &str,
    limit: u32,
) -> worker::Result<Vec<DeliveryRow>> {
    db.prepare(
        "SELECT source, delivery_id, received_at, payload_sha256, outcome, detail, run_id FROM webhook_deliveries \
         WHERE user_id = ?1 AND datasource_id = ?2 ORDER BY received_at DESC, id DESC LIMIT ?3",
    )
    .bind(&[text(user_id), text(datasource_id), JsValue::from_f64(limit.into())])?
    .all()
    .await?
    .results()
}

/// The live, active Xero datasources whose grant covers `tenant`.
pub async fn xero_datasources(
    db: &Db,
    tenant: &str,
) -> worker::Result<Vec<carbon_core::datasources::Record>> {
    db.prepare(format!(
        "SELECT {} FROM datasources WHERE integration_id = 'xero' AND deleted_at IS NULL AND enabled = 1 \
         AND status = 'active' AND EXISTS (SELECT 1 FROM json_each(provider_info, '$.tenants') t \
         WHERE json_extract(t.value, '$.tenant_id') = ?1)",
        super::datasources::VIEW_COLUMNS
    ))
    .bind(&[text(tenant)])?
    .all()
    .await?
    .results()
}

/// The live, enabled datasources of `integration` a push reaches: the one
/// it names (the customer gave the supplier its id), else those whose
/// provider-verified meter points include `meter`. A meter a user merely
/// typed or uploaded never routes: anyone could claim anyone's MPAN.
pub async fn meter_datasources(
    db: &Db,
    integration: &str,
    meter: &str,
    datasource_id: Option<&str>,
) -> worker::Result<Vec<carbon_core::datasources::Record>> {
    let verified = "EXISTS (SELECT 1 FROM json_each(provider_info, '$.meter_points') m \
           WHERE json_extract(m.value, '$.mpan') = ?2 OR json_extract(m.value, '$.mprn') = ?2)";
    let (filter, params) = match datasource_id {
        Some(id) => (
            "id = ?3".to_owned(),
            vec![text(integration), text(meter), text(id)],
        ),
        None => (verified.to_owned(), vec![text(integration), text(meter)]),
    };
    db.prepare(format!(
        "SELECT {} FROM datasources WHERE integration_id = ?1 AND deleted_at IS NULL AND enabled = 1 \
         AND {filter} AND ?2 IS NOT NULL ORDER BY created_at, id",
        super::datasources::VIEW_COLUMNS
    ))
    .bind(&params)?
    .all()
    .await?
    .results()
}
