//! Energy suppliers' pushes about a meter point.

use carbon_core::auth::AuthError;
use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;
use carbon_core::sync::engine::sha256_hex;
use carbon_core::sync::plan::{RunMode, Trigger};
use carbon_core::uploads;
use carbon_core::webhooks::{standard, supplier as push};
use serde_json::json;

use super::{claim, refuse, Signed};
use crate::connections::{db_error, Ctx};
use crate::handlers::uploads::keep;
use crate::http::Reply;
use crate::storage::webhooks::{self as store, Delivery};
use crate::{limits, sync};

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
    let push = match push::parse(body) {
        Ok(p) => p,
        Err(e) => {
            refuse(ctx, integration, "", "invalid_payload").await;
            return Err(e);
        }
    };
    // Readings are checked once, before anything is recorded: a bad push is
    // a 422 that stores nothing, whoever it would have reached.
    let records = match &push.event {
        push::Event::Readings(value) => {
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
        push::Event::DataAvailable => None,
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
        let d = Delivery::for_datasource(integration, &rec.id, delivery_id, rec, &sha, &at);
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
