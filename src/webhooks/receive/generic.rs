//! A customer's own system pushing readings to its endpoint.

use carbon_core::auth::AuthError;
use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;
use carbon_core::sync::engine::sha256_hex;
use carbon_core::uploads;
use carbon_core::webhooks::standard;
use serde_json::{json, Value};

use super::{claim, refuse, Signed, DECOY};
use crate::connections::{db_error, Ctx};
use crate::handlers::uploads::keep;
use crate::http::Reply;
use crate::limits;
use crate::storage::datasources as rows;
use crate::storage::webhooks::{self as store, Delivery};

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
        let _ = crate::webhooks::decoy_crypto(ctx).await;
        let _ = standard::verify(&headers, body, &[&decoy], now.timestamp());
        refuse(ctx, "generic", "", "unknown_endpoint").await;
        return Err(ApiError::not_found("no such webhook endpoint"));
    };
    let current = crate::webhooks::open(ctx, &endpoint, &endpoint.secret).await?;
    let previous = match (&endpoint.previous_secret, &endpoint.previous_until) {
        (Some(sealed), Some(until)) if until.as_str() > timestamp(now).as_str() => {
            Some(crate::webhooks::open(ctx, &endpoint, sealed).await?)
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
    let d = Delivery::for_datasource("generic", &endpoint.id, delivery_id, &rec, &sha, &at);
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
