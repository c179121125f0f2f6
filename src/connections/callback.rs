//! The OAuth callback: check the state, exchange the code, store the
//! tokens encrypted before anything uses them, then learn what the grant
//! covers.

use carbon_core::catalog::Entry;
use carbon_core::crypto;
use carbon_core::datasources::{self, new_id, timestamp, Status};
use carbon_core::error::ApiError;
use carbon_core::oauth::{self, parse_token_response, state_hash};
use carbon_core::oauth_page::Outcome;
use carbon_core::providers::Probe;

use super::oauth::{oauth_provider, verifier_aad};
use super::{db_error, not_found, probe, with_provider_info, Ctx, Secret};
use crate::crypto::WebCrypto;
use crate::storage::datasources::{self as rows, NewRow, NewTokens};
use crate::storage::oauth_states;
use crate::{outbound, random};

/// The provider's redirect back, as query parameters.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Checks the state, then exchanges the code. `session_user` is the signed-in
/// user when the callback request carries a session; a state issued to
/// someone else is then refused. `Ok` is `connected` or `cancelled`; every
/// failure is an error the handler shows as a page or a problem document.
pub async fn callback(
    ctx: &Ctx<'_>,
    integration_id: &str,
    params: CallbackParams,
    session_user: Option<&str>,
) -> Result<Outcome, ApiError> {
    let invalid_state = || {
        Err(ApiError::bad_request(
            "invalid_state: the authorization request is unknown, used, expired or not yours",
        ))
    };
    let Some(state) = params.state.filter(|s| !s.is_empty()) else {
        return invalid_state();
    };
    let hash = state_hash(&state);
    let now = ctx.now();
    let Some(pending) = oauth_states::consume(&ctx.db, &hash, &timestamp(now))
        .await
        .map_err(db_error)?
    else {
        return invalid_state();
    };
    let expired = pending.expires_at.as_str() <= timestamp(now).as_str();
    let foreign = pending.integration_id != integration_id
        || session_user.is_some_and(|u| u != pending.user_id);
    if expired || foreign {
        return invalid_state();
    }
    if let Some(error) = params.error {
        if error == "access_denied" {
            return Ok(Outcome::cancelled());
        }
        let detail = params
            .error_description
            .map(|d| format!("{error}: {d}"))
            .unwrap_or(error);
        return Err(ApiError::bad_request(format!(
            "the provider refused: {detail}"
        )));
    }
    let Some(code) = params.code.filter(|c| !c.is_empty()) else {
        return Err(ApiError::bad_request(
            "the provider sent neither a code nor an error",
        ));
    };
    let entry = datasources::integration(integration_id, "integration")?;
    let (provider, spec) = oauth_provider(entry)?;
    let settings = ctx.settings();
    let client = spec
        .client(&settings)
        .map_err(|missing| ApiError::ServiceUnavailable {
            detail: format!("{missing} is not set"),
        })?;
    let verifier = match &pending.code_verifier {
        Some(sealed) => {
            let opened = crypto::open(
                &WebCrypto,
                ctx.ring()?,
                &verifier_aad(&hash, &pending.user_id),
                sealed,
            )
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
            Some(
                String::from_utf8(opened.plaintext)
                    .map_err(|e| ApiError::internal(e.to_string()))?,
            )
        }
        None => None,
    };
    let request = spec.code_request(
        &settings,
        &client,
        &code,
        &pending.redirect_uri,
        verifier.as_deref(),
    );
    let resp = outbound::send(&request)
        .await
        .map_err(|e| ApiError::BadGateway { detail: e })?;
    let tokens = parse_token_response(resp.status, &resp.body, ctx.now(), None).map_err(|e| {
        ApiError::BadGateway {
            detail: format!("the token exchange failed: {e}"),
        }
    })?;
    let id = store_grant(ctx, &pending, entry, &tokens).await?;
    // The tokens are stored (a rotating refresh token must never exist only
    // in memory); now learn what the grant covers.
    let rec = rows::get(&ctx.db, &pending.user_id, &id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(&id))?;
    let at = timestamp(ctx.now());
    match probe(
        provider,
        Secret::Oauth {
            tokens: tokens.clone(),
        }
        .as_secrets(),
        &settings,
    )
    .await
    {
        Probe::Ok(info) => {
            let base: serde_json::Value = serde_json::from_str(&rec.settings).unwrap_or_default();
            let merged = with_provider_info(&base, info);
            let entry = ctx.audit(&rec.user_id, &rec.id, "connect", Some(integration_id), &at);
            let c = rows::Changes {
                settings: Some(&merged),
                status: Some(Status::Active.as_str()),
                last_error: Some(None),
                ..Default::default()
            };
            rows::update(&ctx.db, &rec.user_id, &rec.id, None, &c, &entry, &at)
                .await
                .map_err(db_error)?;
            Ok(Outcome::connected(id))
        }
        failed => {
            let reason = match failed {
                Probe::Unauthorized(r)
                | Probe::Rejected(r)
                | Probe::Unavailable(r)
                | Probe::Unreachable(r) => r,
                Probe::Ok(_) => unreachable!(),
            };
            let message = format!("connected, but the first check failed: {reason}");
            let entry = ctx.audit(&rec.user_id, &rec.id, "error", Some(&reason), &at);
            rows::set_status(
                &ctx.db,
                &rec.id,
                Status::Error.as_str(),
                Some(&message),
                &entry,
                &at,
            )
            .await
            .map_err(db_error)?;
            Err(ApiError::BadGateway { detail: message })
        }
    }
}

/// Stores the grant's tokens encrypted, as a new datasource or over the one
/// being re-authorised. The row starts `pending` until the first check.
async fn store_grant(
    ctx: &Ctx<'_>,
    pending: &oauth_states::State,
    entry: &Entry,
    tokens: &oauth::TokenSet,
) -> Result<String, ApiError> {
    let at = timestamp(ctx.now());
    let expires = tokens.expires_at.map(timestamp);
    let secret = Secret::Oauth {
        tokens: tokens.clone(),
    };
    if let Some(existing_id) = &pending.datasource_id {
        let rec = rows::get(&ctx.db, &pending.user_id, existing_id)
            .await
            .map_err(db_error)?
            .ok_or_else(|| not_found(existing_id))?;
        let sealed = ctx.seal(&rec.id, &rec.user_id, &secret).await?;
        let audit = ctx.audit(&rec.user_id, &rec.id, "reauthorize", None, &at);
        let t = NewTokens {
            credentials: &sealed,
            token_expires_at: expires.as_deref(),
            settings: None,
            status: Status::Pending.as_str(),
            last_error: None,
        };
        if !rows::store_tokens(&ctx.db, &rec.id, rec.credentials_version, &t, &audit, &at)
            .await
            .map_err(db_error)?
        {
            return Err(ApiError::Conflict {
                detail: "the datasource changed during authorisation; retry".into(),
            });
        }
        return Ok(rec.id);
    }
    let id = new_id("ds", random::bytes());
    let sealed = ctx.seal(&id, &pending.user_id, &secret).await?;
    let row = NewRow {
        id: &id,
        user_id: &pending.user_id,
        integration_id: &entry.integration.id,
        display_name: &pending.display_name,
        auth_type: entry.integration.auth_type.as_str(),
        status: Status::Pending.as_str(),
        last_error: None,
        settings: "{}",
        sync_frequency_minutes: datasources::DEFAULT_SYNC_MINUTES,
        credentials: &sealed,
        credential_hint: Some("OAuth authorisation"),
        token_expires_at: expires.as_deref(),
        tokens_refreshed_at: Some(&at),
        now: &at,
    };
    let audit = ctx.audit(
        &pending.user_id,
        &id,
        "authorize",
        Some(&entry.integration.id),
        &at,
    );
    rows::insert(&ctx.db, &row, &audit)
        .await
        .map_err(db_error)?;
    Ok(id)
}
