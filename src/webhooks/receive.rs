//! The receivers: raw bytes (already read once, within the route's cap) ->
//! signature verified in constant time -> parsed -> recorded once per
//! delivery id -> ingested (or a sync queued). Refused deliveries store
//! nothing but a count.

use carbon_core::auth::AuthError;
use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;
use carbon_core::sync::engine::sha256_hex;
use carbon_core::sync::plan::{RunMode, Trigger};
use carbon_core::uploads;
use carbon_core::webhooks::{standard, supplier, xero};
use serde_json::{json, Value};

use crate::connections::{db_error, Ctx};
use crate::handlers::uploads::keep;
use crate::http::Reply;
use crate::storage::datasources as rows;
use crate::storage::webhooks::{self as store, Claim, Delivery};
use crate::{limits, sync};

/// The Standard Webhooks headers of a request.
pub struct Signed {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

/// A key no endpoint has: an unknown endpoint's delivery is checked
/// against it, so it costs what a bad signature does.
const DECOY: &str = "whsec_ZGVjb3ktZGVjb3ktZGVjb3ktZGVjb3ktZGVjb3k=";

/// Claims a delivery for processing: `None` to process it, `Some(Done)`
/// when it was processed already (acknowledge); in flight elsewhere, a 409
/// so the sender retries.
async fn claim(ctx: &Ctx<'_>, d: &Delivery<'_>) -> Result<Option<Claim>, ApiError> {
    let stale = timestamp(ctx.now() - chrono::Duration::seconds(store::CLAIM_LEASE_SECS));
    match store::claim(&ctx.db, d, &stale).await.map_err(db_error)? {
        Claim::Claimed => Ok(None),
        Claim::Done => Ok(Some(Claim::Done)),
        Claim::InFlight => Err(ApiError::Conflict {
            detail: "this delivery is being processed by another attempt; retry in a few seconds"
                .into(),
        }),
    }
}

async fn refuse(ctx: &Ctx<'_>, source: &str, scope: &str, reason: &str) {
    let day = timestamp(ctx.now())[..10].to_owned();
    // Counting is best effort: a refusal is answered whatever happens here.
    let _ = store::refused(&ctx.db, source, scope, reason, &day).await;
}

/// POST /api/v1/webhooks/generic/{source}: a user's own system pushing
/// readings (the manual-entry shape), Standard Webhooks signed.
pub async fn generic(
    ctx: &Ctx<'_>,
    env: &worker::Env,
    source: &str,
    h: &Signed,
    body: &[u8],
) -> Result<Reply, ApiError> {
    limits::take(env, limits::WEBHOOKS, &format!("generic/{source}")).await?;
    let now = ctx.now();
    let headers = standard::Headers {
        id: h.id.as_deref(),
        timestamp: h.timestamp.as_deref(),
        signature: h.signature.as_deref(),
    };
    let Some(endpoint) = store::by_source(&ctx.db, source).await.map_err(db_error)? else {
        // The work a known endpoint does before refusing: an AES-GCM
        // operation and the HMAC, so timing does not say which ids exist.
        let decoy = standard::Secret::parse(DECOY).expect("the decoy parses");
        let _ = super::decoy_crypto(ctx).await;
        let _ = standard::verify(&headers, body, &[&decoy], now.timestamp());
        refuse(ctx, "generic", "", "unknown_endpoint").await;
        return Err(ApiError::not_found("no such webhook endpoint"));
    };
    let current = super::open(ctx, &endpoint, &endpoint.secret).await?;
    let previous = match (&endpoint.previous_secret, &endpoint.previous_until) {
        (Some(sealed), Some(until)) if until.as_str() > timestamp(now).as_str() => {
            Some(super::open(ctx, &endpoint, sealed).await?)
        }
        _ => None,
    };
    let secrets: Vec<&standard::Secret> =
        std::iter::once(&current).chain(previous.as_ref()).collect();
    let delivery_id = match standard::verify(&headers, body, &secrets, now.timestamp()) {
        Ok(id) => id,
        Err(why) => {
            refuse(ctx, "generic", &endpoint.id, &format!("{why:?}")).await;
            return Err(ApiError::Unauthorized(AuthError::Webhook(why.as_str())));
        }
    };
    // Verified: now, and only now, the bytes are read as JSON.
    let rec = rows::get(&ctx.db, &endpoint.user_id, &endpoint.datasource_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found("no such webhook endpoint"))?;
    if rec.enabled == 0 {
        return Err(ApiError::Conflict {
            detail: "the endpoint's datasource is disabled: enable it to receive data".into(),
        });
    }
    let readings = serde_json::from_slice::<Value>(body)
        .map_err(|e| {
            ApiError::bad_request(format!("the body is not JSON ({:?} error)", e.classify()))
        })
        .and_then(|value| {
            let entry = carbon_core::catalog::catalog()
                .get(&rec.integration_id)
                .ok_or_else(|| ApiError::internal("a datasource's integration left the catalog"))?;
            uploads::parse_readings(
                &value,
                &uploads::accepted_types(&entry.integration.data_types),
                now,
            )
        });
    let records = match readings {
        Ok(r) => r,
        Err(e) => {
            refuse(ctx, "generic", &endpoint.id, "invalid_payload").await;
            return Err(match e {
                ApiError::BadRequest { detail, .. } => ApiError::unprocessable("body", detail),
                other => other,
            });
        }
    };
    let sha = sha256_hex(body);
    let at = timestamp(now);
    let d = Delivery {
        source: "generic",
        scope: &endpoint.id,
        delivery_id,
        datasource_id: Some(&rec.id),
        user_id: Some(&rec.user_id),
        payload_sha256: &sha,
        outcome: "processing",
        now: &at,
    };
    if claim(ctx, &d).await?.is_some() {
        return Reply::json(
            200,
            &json!({"delivery_id": delivery_id, "outcome": "duplicate"}),
        );
    }
    match keep(ctx, &rec, "webhook", body, &sha, &records).await {
        Ok(run) => {
            store::settle(&ctx.db, &d, "ingested", None, Some(&run.id))
                .await
                .map_err(db_error)?;
            Reply::json(
                200,
                &json!({"delivery_id": delivery_id, "outcome": "ingested", "run_id": run.id, "values": records.len()}),
            )
        }
        Err(e) => {
            // Not processed: the sender's retry will be.
            let _ = store::release(&ctx.db, &d).await;
            Err(e)
        }
    }
}

/// POST /api/v1/webhooks/xero: Xero's signed event batches. A good
/// signature is 200 with an empty body, a bad one 401 (also empty), as
/// Xero's intent-to-receive check requires; invoice events queue an
/// incremental sync of the organisation's datasources.
pub async fn xero(
    ctx: &Ctx<'_>,
    env: &worker::Env,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Reply, ApiError> {
    limits::take(env, limits::WEBHOOKS, "xero").await?;
    let Some(key) = crate::config::env_string(env, "XERO_WEBHOOK_KEY") else {
        return Err(ApiError::ServiceUnavailable {
            detail: "Xero webhooks are not configured (XERO_WEBHOOK_KEY)".into(),
        });
    };
    if !xero::verify(&key, body, signature) {
        refuse(ctx, "xero", "", "bad_signature").await;
        return Ok(Reply::empty(401, Vec::new()));
    }
    let Ok(payload) = serde_json::from_slice::<xero::Payload>(body) else {
        refuse(ctx, "xero", "", "invalid_payload").await;
        return Err(ApiError::unprocessable(
            "events",
            "not a Xero webhook payload",
        ));
    };
    if payload.events.is_empty() {
        return Ok(Reply::empty(200, Vec::new()));
    }
    let sha = sha256_hex(body);
    let at = timestamp(ctx.now());
    // Claimed per organisation: a retry after a partial failure redoes only
    // the organisations not done.
    for tenant in payload.tenants_to_sync() {
        let d = Delivery {
            source: "xero",
            scope: tenant,
            delivery_id: &sha,
            datasource_id: None,
            user_id: None,
            payload_sha256: &sha,
            outcome: "processing",
            now: &at,
        };
        if claim(ctx, &d).await?.is_some() {
            continue;
        }
        let datasources = match store::xero_datasources(&ctx.db, tenant).await {
            Ok(list) => list,
            Err(e) => {
                let _ = store::release(&ctx.db, &d).await;
                return Err(db_error(e));
            }
        };
        let mut queued = Vec::new();
        for rec in datasources {
            match sync::start(
                ctx,
                &rec,
                Trigger::Webhook,
                RunMode::Incremental,
                None,
                None,
            )
            .await
            {
                Ok(run) => queued.push(run.id),
                // A run in progress reads the change too.
                Err(ApiError::Conflict { .. }) => {}
                Err(e) => {
                    let _ = store::release(&ctx.db, &d).await;
                    return Err(e);
                }
            }
        }
        let detail = format!("{} sync run(s) queued", queued.len());
        let outcome = if queued.is_empty() {
            "acknowledged"
        } else {
            "sync_queued"
        };
        store::settle(
            &ctx.db,
            &d,
            outcome,
            Some(&detail),
            queued.first().map(String::as_str),
        )
        .await
        .map_err(db_error)?;
    }
    Ok(Reply::empty(200, Vec::new()))
}

/// The suppliers that push, and the setting holding their secrets
/// (comma-separated `whsec_...`: the first current, the rest still valid
/// while a rotation completes).
pub fn supplier_secrets_setting(integration: &str) -> Option<&'static str> {
    match integration {
        "octopus-energy" => Some("OCTOPUS_ENERGY_WEBHOOK_SECRETS"),
        "british-gas" => Some("BRITISH_GAS_WEBHOOK_SECRETS"),
        _ => None,
    }
}

/// POST /api/v1/webhooks/octopus-energy, /api/v1/webhooks/british-gas: a
/// supplier's push about one meter, for every datasource of that supplier
/// naming the meter: readings are ingested, `data_available` queues an
/// incremental sync. Recorded once per delivery id and datasource.
pub async fn supplier(
    ctx: &Ctx<'_>,
    env: &worker::Env,
    integration: &str,
    h: &Signed,
    body: &[u8],
) -> Result<Reply, ApiError> {
    limits::take(env, limits::WEBHOOKS, &format!("supplier/{integration}")).await?;
    let setting = supplier_secrets_setting(integration)
        .ok_or_else(|| ApiError::not_found("no such webhook"))?;
    let secrets: Vec<standard::Secret> = crate::config::env_string(env, setting)
        .map(|v| {
            v.split(',')
                .filter_map(|s| standard::Secret::parse(s.trim()))
                .collect()
        })
        .unwrap_or_default();
    if secrets.is_empty() {
        return Err(ApiError::ServiceUnavailable {
            detail: format!("{integration} webhooks are not configured ({setting})"),
        });
    }
    let now = ctx.now();
    let headers = standard::Headers {
        id: h.id.as_deref(),
        timestamp: h.timestamp.as_deref(),
        signature: h.signature.as_deref(),
    };
    let delivery_id = match standard::verify(
        &headers,
        body,
        &secrets.iter().collect::<Vec<_>>(),
        now.timestamp(),
    ) {
        Ok(id) => id,
        Err(why) => {
            refuse(ctx, integration, "", &format!("{why:?}")).await;
            return Err(ApiError::Unauthorized(AuthError::Webhook(why.as_str())));
        }
    };
    let push = match supplier::parse(body) {
        Ok(p) => p,
        Err(e) => {
            refuse(ctx, integration, "", "invalid_payload").await;
            return Err(e);
        }
    };
    // Readings are checked once, before anything is recorded: a bad push is
    // a 422 that stores nothing, whoever it would have reached.
    let records = match &push.event {
        supplier::Event::Readings(value) => {
            let entry = carbon_core::catalog::catalog()
                .get(integration)
                .ok_or_else(|| ApiError::internal("a supplier left the catalog"))?;
            let accepted = uploads::accepted_types(&entry.integration.data_types);
            match uploads::parse_readings(value, &accepted, now) {
                Ok(r) => Some(r),
                Err(e) => {
                    refuse(ctx, integration, "", "invalid_payload").await;
                    return Err(e);
                }
            }
        }
        supplier::Event::DataAvailable => None,
    };
    let targets = store::meter_datasources(
        &ctx.db,
        integration,
        &push.meter,
        push.datasource_id.as_deref(),
    )
    .await
    .map_err(db_error)?;
    let sha = sha256_hex(body);
    let at = timestamp(now);
    let mut outcomes = Vec::new();
    if targets.is_empty() {
        // Accepted, for no datasource: recorded (once), nothing else.
        let d = Delivery {
            source: integration,
            scope: "",
            delivery_id,
            datasource_id: None,
            user_id: None,
            payload_sha256: &sha,
            outcome: "no_datasource",
            now: &at,
        };
        store::claim(&ctx.db, &d, &at).await.map_err(db_error)?;
    }
    for rec in &targets {
        let d = Delivery {
            source: integration,
            scope: &rec.id,
            delivery_id,
            datasource_id: Some(&rec.id),
            user_id: Some(&rec.user_id),
            payload_sha256: &sha,
            outcome: "processing",
            now: &at,
        };
        if claim(ctx, &d).await?.is_some() {
            outcomes.push(json!({"datasource_id": rec.id, "outcome": "duplicate"}));
            continue;
        }
        let result = match &records {
            Some(records) => keep(ctx, rec, "webhook", body, &sha, records)
                .await
                .map(|run| ("ingested", Some(run.id))),
            None if carbon_core::providers::support(&rec.integration_id).sync
                && rec.status == "active" =>
            {
                match sync::start(ctx, rec, Trigger::Webhook, RunMode::Incremental, None, None)
                    .await
                {
                    Ok(run) => Ok(("sync_queued", Some(run.id))),
                    Err(ApiError::Conflict { .. }) => Ok(("acknowledged", None)),
                    Err(e) => Err(e),
                }
            }
            None => Ok(("acknowledged", None)),
        };
        match result {
            Ok((outcome, run_id)) => {
                store::settle(&ctx.db, &d, outcome, None, run_id.as_deref())
                    .await
                    .map_err(db_error)?;
                outcomes
                    .push(json!({"datasource_id": rec.id, "outcome": outcome, "run_id": run_id}));
            }
            Err(e) => {
                // Not processed: the sender's retry will be (or, should this
                // release fail, a retry once the claim's lease has passed).
                let _ = store::release(&ctx.db, &d).await;
                return Err(e);
            }
        }
    }
    Reply::json(
        200,
        &json!({"delivery_id": delivery_id, "meter": push.meter, "datasources": outcomes}),
    )
}
