//! Webhook receivers and a datasource's webhook endpoints and deliveries.

use carbon_core::error::ApiError;
use serde::Serialize;

use super::call::Call;
use crate::connections::{db_error, Ctx};
use crate::http::Reply;
use crate::storage::webhooks as store;
use crate::webhooks::{self, receive};

/// A request's Standard Webhooks headers.
fn signed(call: &Call<'_>) -> receive::Signed {
    receive::Signed {
        id: call.header("webhook-id"),
        timestamp: call.header("webhook-timestamp"),
        signature: call.header("webhook-signature"),
    }
}

/// POST /api/v1/webhooks/generic/{source}
pub async fn generic(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services_as("webhook:generic")?;
    let signed = signed(call);
    receive::generic(&ctx, call.env, call.param("source"), &signed, call.body).await
}

/// POST /api/v1/webhooks/octopus-energy, /api/v1/webhooks/british-gas
pub async fn supplier(call: &Call<'_>, integration: &str) -> Result<Reply, ApiError> {
    let ctx = call.services_as(&format!("webhook:{integration}"))?;
    let signed = signed(call);
    receive::supplier(&ctx, call.env, integration, &signed, call.body).await
}

/// POST /api/v1/webhooks/xero
pub async fn xero(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services_as("webhook:xero")?;
    let signature = call.header("x-xero-signature");
    receive::xero(&ctx, call.env, signature.as_deref(), call.body).await
}

/// The datasource the path names, if the user owns it and it takes pushes.
async fn datasource(
    ctx: &Ctx<'_>,
    call: &Call<'_>,
) -> Result<carbon_core::datasources::Record, ApiError> {
    let rec = super::datasources::owned(ctx, call).await?;
    let pushed = carbon_core::catalog::catalog()
        .get(&rec.integration_id)
        .is_some_and(|e| e.integration.auth_type.fed_by_people());
    if !pushed {
        return Err(ApiError::Conflict {
            detail: "this datasource's data arrives by sync; webhook endpoints are for data your own systems send".into(),
        });
    }
    Ok(rec)
}

#[derive(Serialize)]
struct List<T> {
    data: Vec<T>,
}

/// POST /api/v1/datasources/{id}/webhook-endpoints
pub async fn create(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let rec = datasource(&ctx, call).await?;
    Reply::json(201, &webhooks::create(&ctx, &rec.user_id, &rec.id).await?)
}

/// GET /api/v1/datasources/{id}/webhook-endpoints
pub async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let rec = datasource(&ctx, call).await?;
    let data = webhooks::list(&ctx, &rec.user_id, &rec.id).await?;
    Reply::json(200, &List { data })
}

async fn endpoint(ctx: &Ctx<'_>, call: &Call<'_>) -> Result<store::Endpoint, ApiError> {
    let rec = datasource(ctx, call).await?;
    let id = call.param("endpoint_id");
    store::owned(&ctx.db, &rec.user_id, &rec.id, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("no webhook endpoint {id} on this datasource")))
}

/// POST /api/v1/datasources/{id}/webhook-endpoints/{endpoint_id}/rotate
pub async fn rotate(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let e = endpoint(&ctx, call).await?;
    Reply::json(200, &webhooks::rotate(&ctx, &e).await?)
}

/// DELETE /api/v1/datasources/{id}/webhook-endpoints/{endpoint_id}
pub async fn delete(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let e = endpoint(&ctx, call).await?;
    let now = carbon_core::datasources::timestamp(ctx.now());
    let entry = ctx.audit(
        &e.user_id,
        &e.datasource_id,
        "webhook_endpoint_delete",
        Some(&e.id),
        &now,
    );
    store::delete(&ctx.db, &e, &now, &entry)
        .await
        .map_err(db_error)?;
    Ok(Reply::empty(204, Vec::new()))
}

/// GET /api/v1/datasources/{id}/webhook-deliveries
pub async fn deliveries(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let rec = super::datasources::owned(&ctx, call).await?;
    let data = store::deliveries(&ctx.db, &rec.user_id, &rec.id, 100)
        .await
        .map_err(db_error)?;
    Reply::json(200, &List { data })
}
