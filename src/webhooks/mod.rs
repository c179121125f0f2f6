//! Webhooks, the Worker side: users' endpoints (secrets sealed like
//! credentials, shown once) and the receivers (`receive.rs`). Signature
//! schemes are `carbon_core::webhooks`; SQL is `storage::webhooks`.

pub mod receive;

use carbon_core::crypto::{self, CryptoError};
use carbon_core::datasources::{new_id, timestamp};
use carbon_core::error::ApiError;
use carbon_core::webhooks::standard::Secret;
use chrono::Duration;
use serde::Serialize;

use crate::connections::{db_error, Ctx};
use crate::crypto::{fresh_iv, WebCrypto};
use crate::random;
use crate::storage::webhooks::{self as store, Endpoint, EndpointView, NewEndpoint};

/// How long the secret a rotation replaced still verifies.
pub const ROTATION_GRACE: Duration = Duration::hours(24);

/// What an endpoint's sealed secret is bound to: this endpoint and owner.
fn aad(endpoint_id: &str, user_id: &str) -> Vec<u8> {
    format!("carbon/webhook-endpoint-secret/v1/{endpoint_id}/{user_id}").into_bytes()
}

async fn seal(
    ctx: &Ctx<'_>,
    endpoint_id: &str,
    user_id: &str,
    text: &str,
) -> Result<String, ApiError> {
    crypto::seal(
        &WebCrypto,
        ctx.ring()?,
        fresh_iv(),
        &aad(endpoint_id, user_id),
        text.as_bytes(),
    )
    .await
    .map_err(|e| ApiError::internal(format!("sealing a webhook secret: {e}")))
}

/// Opens a sealed secret; one that fails authentication is refused like a
/// bad signature would be (and logged), never used.
pub async fn open(ctx: &Ctx<'_>, e: &Endpoint, sealed: &str) -> Result<Secret, ApiError> {
    let opened = crypto::open(&WebCrypto, ctx.ring()?, &aad(&e.id, &e.user_id), sealed)
        .await
        .map_err(|err| match err {
            CryptoError::UnknownKey(kid) => ApiError::internal(format!(
                "configuration: webhook endpoint {} is sealed under key {kid}, which is not configured",
                e.id
            )),
            other => ApiError::internal(format!("webhook endpoint {} secret: {other}", e.id)),
        })?;
    let text = String::from_utf8(opened.plaintext)
        .map_err(|_| ApiError::internal("a webhook secret is not text"))?;
    Secret::parse(&text).ok_or_else(|| ApiError::internal("a stored webhook secret does not parse"))
}

/// One AES-GCM operation on nothing: what opening a secret costs.
pub async fn decoy_crypto(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    crypto::seal(
        &WebCrypto,
        ctx.ring()?,
        fresh_iv(),
        b"decoy",
        b"whsec_decoy",
    )
    .await
    .map(|_| ())
    .map_err(|e| ApiError::internal(e.to_string()))
}

/// An endpoint with its secret, shown this once.
#[derive(Serialize)]
pub struct Created {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    pub secret: String,
}

fn url_path(source: &str) -> String {
    format!("/api/v1/webhooks/generic/{source}")
}

/// A new endpoint for a datasource the user owns (checked by the caller).
pub async fn create(
    ctx: &Ctx<'_>,
    user_id: &str,
    datasource_id: &str,
) -> Result<Created, ApiError> {
    let id = new_id("whe", random::bytes());
    // 160 random bits, in the id alphabet: unguessable, URL-safe.
    let source = new_id("src", random::bytes());
    let (_, text) = Secret::from_bytes(random::bytes());
    let now = timestamp(ctx.now());
    let sealed = seal(ctx, &id, user_id, &text).await?;
    let entry = ctx.audit(
        user_id,
        datasource_id,
        "webhook_endpoint_create",
        Some(&id),
        &now,
    );
    let row = NewEndpoint {
        id: &id,
        source: &source,
        datasource_id,
        user_id,
        sealed: &sealed,
        now: &now,
    };
    store::insert(&ctx.db, &row, &entry)
        .await
        .map_err(db_error)?;
    Ok(Created {
        endpoint: EndpointView {
            id,
            datasource_id: datasource_id.to_owned(),
            url_path: Some(url_path(&source)),
            source,
            created_at: now,
            rotated_at: None,
            previous_until: None,
        },
        secret: text,
    })
}

/// A new secret; the old one verifies for [`ROTATION_GRACE`] more.
pub async fn rotate(ctx: &Ctx<'_>, e: &Endpoint) -> Result<Created, ApiError> {
    let (_, text) = Secret::from_bytes(random::bytes());
    let now = ctx.now();
    let (at, until) = (timestamp(now), timestamp(now + ROTATION_GRACE));
    let sealed = seal(ctx, &e.id, &e.user_id, &text).await?;
    let entry = ctx.audit(
        &e.user_id,
        &e.datasource_id,
        "webhook_endpoint_rotate",
        Some(&e.id),
        &at,
    );
    if !store::rotate(&ctx.db, e, &sealed, &until, &at, &entry)
        .await
        .map_err(db_error)?
    {
        return Err(ApiError::Conflict {
            detail: "the endpoint changed meanwhile (rotated or deleted); list it and try again"
                .into(),
        });
    }
    let view = list(ctx, &e.user_id, &e.datasource_id)
        .await?
        .into_iter()
        .find(|v| v.id == e.id)
        .ok_or_else(|| ApiError::not_found("no such webhook endpoint"))?;
    Ok(Created {
        endpoint: view,
        secret: text,
    })
}

/// The user's endpoints of a datasource, each with its URL path.
pub async fn list(
    ctx: &Ctx<'_>,
    user_id: &str,
    datasource_id: &str,
) -> Result<Vec<EndpointView>, ApiError> {
    let mut all = store::list(&ctx.db, user_id, datasource_id)
        .await
        .map_err(db_error)?;
    for v in &mut all {
        v.url_path = Some(url_path(&v.source));
    }
    Ok(all)
}
