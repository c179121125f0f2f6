//! Starting the authorization-code flow: the provider URL with a random,
//! single-use, user-bound, 10-minute `state`, and PKCE where the provider
//! supports it. The other half is `callback.rs`.

use carbon_core::catalog::Entry;
use carbon_core::crypto::{self, credentials_aad};
use carbon_core::datasources::{self, timestamp, AuthorizeBody};
use carbon_core::error::ApiError;
use carbon_core::oauth::{pkce_challenge, random_token, state_hash, STATE_TTL};
use carbon_core::providers::{self, OAuthSpec, Provider};
use serde::Serialize;

use super::{db_error, not_found, Ctx};
use crate::crypto::{fresh_iv, WebCrypto};
use crate::random;
use crate::storage::datasources as rows;
use crate::storage::oauth_states::{self, NewState};

#[derive(Serialize)]
pub struct Authorization {
    pub authorization_url: String,
    pub state: String,
    pub expires_at: String,
}

pub(super) fn oauth_provider(
    entry: &Entry,
) -> Result<(&'static dyn Provider, &'static OAuthSpec), ApiError> {
    providers::provider(&entry.integration.id)
        .and_then(|p| p.oauth().map(|spec| (p, spec)))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "integration_id",
                format!(
                    "{} does not connect with OAuth here",
                    entry.integration.name
                ),
            )
        })
}

/// The redirect URI registered with providers for this integration.
pub fn redirect_uri(public_base: &str, integration_id: &str) -> String {
    format!(
        "{}/api/v1/oauth/{integration_id}/callback",
        public_base.trim_end_matches('/')
    )
}

/// Aad binding an encrypted PKCE verifier to its state.
pub(super) fn verifier_aad(state_hash: &str, user_id: &str) -> Vec<u8> {
    credentials_aad(&format!("oauth-state:{state_hash}"), user_id)
}

pub async fn authorize(
    ctx: &Ctx<'_>,
    user_id: &str,
    body: AuthorizeBody,
    public_base: &str,
) -> Result<Authorization, ApiError> {
    let entry = datasources::integration(&body.integration_id, "integration_id")?;
    let (_, spec) = oauth_provider(entry)?;
    let settings = ctx.settings();
    // A provider whose client is not configured is our gap, not the user's.
    let client = spec
        .client(&settings)
        .map_err(|missing| ApiError::ServiceUnavailable {
            detail: format!(
                "{} connections are not configured on this server: {missing} is not set",
                entry.integration.name
            ),
        })?;
    if let Some(id) = &body.datasource_id {
        let existing = rows::get(&ctx.db, user_id, id)
            .await
            .map_err(db_error)?
            .ok_or_else(|| not_found(id))?;
        if existing.integration_id != entry.integration.id {
            return Err(ApiError::unprocessable(
                "datasource_id",
                "belongs to another integration",
            ));
        }
    }
    let display_name = body.checked_name(&entry.integration.name)?;
    let state = random_token(random::bytes());
    let hash = state_hash(&state);
    let verifier = spec.pkce.then(|| random_token(random::bytes()));
    let sealed_verifier = match &verifier {
        Some(v) => Some(
            crypto::seal(
                &WebCrypto,
                ctx.ring()?,
                fresh_iv(),
                &verifier_aad(&hash, user_id),
                v.as_bytes(),
            )
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?,
        ),
        None => None,
    };
    let redirect = redirect_uri(public_base, &entry.integration.id);
    let now = ctx.now();
    let expires_at = timestamp(now + STATE_TTL);
    oauth_states::insert(
        &ctx.db,
        &NewState {
            state_hash: &hash,
            user_id,
            integration_id: &entry.integration.id,
            datasource_id: body.datasource_id.as_deref(),
            display_name: &display_name,
            code_verifier: sealed_verifier.as_deref(),
            redirect_uri: &redirect,
            created_at: &timestamp(now),
            expires_at: &expires_at,
        },
    )
    .await
    .map_err(db_error)?;
    let challenge = verifier.as_deref().map(pkce_challenge);
    Ok(Authorization {
        authorization_url: spec.authorize_url(
            &settings,
            &client,
            &redirect,
            &state,
            challenge.as_deref(),
        ),
        state,
        expires_at,
    })
}
