//! Xero's signed event batches.

use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;
use carbon_core::sync::engine::sha256_hex;
use carbon_core::sync::plan::{RunMode, Trigger};
use carbon_core::webhooks::xero;

use super::{claim, refuse};
use crate::connections::{db_error, Ctx};
use crate::http::Reply;
use crate::storage::webhooks::{self as store, Delivery};
use crate::{limits, sync};

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
