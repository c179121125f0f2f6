//! Completing an OAuth connection, as the signed-in user who started it:
//! consume the state (only the caller's own, once), exchange the code, store
//! the tokens encrypted before anything uses them, revoke the grant they
//! replace, then learn what the grant covers.

use carbon_core::catalog::Entry;
use carbon_core::crypto;
use carbon_core::datasources::{self, new_id, timestamp, Completion, Status, View};
use carbon_core::error::ApiError;
use carbon_core::oauth::{self, parse_token_response, state_hash, TokenError, TokenSet};
use carbon_core::providers::{Probe, Provider};

use super::callback::invalid_state;
use super::manage::revoke;
use super::oauth::{oauth_provider, verifier_aad};
use super::{db_error, not_found, probe_oauth, Ctx, Secret};
use crate::crypto::WebCrypto;
use crate::storage::credentials::{self as creds, NewTokens};
use crate::storage::datasources::{self as rows, NewRow};
use crate::storage::oauth_states;
use crate::{outbound, random};

pub enum Completed {
    /// `created`: a new datasource (201) rather than a re-authorised one.
    Connected {
        view: Box<View>,
        created: bool,
    },
    Cancelled,
}

const CODE_REFUSED: &str =
    "the provider refused this code (unknown, used or expired); start the connection again";

pub async fn complete(
    ctx: &Ctx<'_>,
    user_id: &str,
    completion: Completion,
) -> Result<Completed, ApiError> {
    let state = match &completion {
        Completion::Code { state, .. }
        | Completion::Cancelled { state }
        | Completion::Refused { state, .. } => state,
    };
    let hash = state_hash(state);
    let pending = oauth_states::consume(&ctx.db, &hash, user_id, &timestamp(ctx.now()))
        .await
        .map_err(db_error)?
        .ok_or_else(invalid_state)?;
    let code = match completion {
        Completion::Code { code, .. } => code,
        Completion::Cancelled { .. } => return Ok(Completed::Cancelled),
        Completion::Refused { error, .. } => {
            return Err(ApiError::bad_request(format!(
                "the provider refused: {error}"
            )))
        }
    };
    let entry = datasources::integration(&pending.integration_id, "integration")?;
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
            .map_err(|e| ApiError::internal(format!("PKCE verifier: {e}")))?;
            Some(
                String::from_utf8(opened.plaintext)
                    .map_err(|_| ApiError::internal("PKCE verifier is not UTF-8"))?,
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
        .map_err(|e| ApiError::BadGateway {
            detail: e.to_string(),
        })?;
    // An `invalid_grant` is the code itself: unknown, spent or expired (RFC
    // 6749 5.2). The state is spent too, so the user starts again.
    let tokens =
        parse_token_response(resp.status, &resp.body, ctx.now(), None).map_err(|e| match e {
            TokenError::InvalidGrant(_) => ApiError::unprocessable("code", CODE_REFUSED),
            e => ApiError::BadGateway {
                detail: format!("the token exchange failed: {e}"),
            },
        })?;
    let stored = store_grant(ctx, provider, &pending, entry, &tokens).await?;
    // The tokens are stored (a rotating refresh token must never exist only
    // in memory); now learn what the grant covers.
    let outcome = probe_oauth(ctx.env, provider, tokens.clone(), &settings).await;
    let (status, last_error, info) = match outcome {
        Probe::Ok(info) => (Status::Active, None, Some(info.to_string())),
        // A provider outage is not the connection's fault: it stays active
        // and says what happened; the next check or sync tries again.
        Probe::Unavailable(r) | Probe::Unreachable(r) => (
            Status::Active,
            Some(format!("connected, but the first check could not run: {r}")),
            None,
        ),
        Probe::Unauthorized(r) | Probe::Rejected(r) => (
            Status::Error,
            Some(format!("connected, but the first check failed: {r}")),
            None,
        ),
    };
    let at = timestamp(ctx.now());
    let audit = ctx.audit(user_id, &stored.id, "connect", Some(status.as_str()), &at);
    let c = rows::Changes {
        status: Some(status.as_str()),
        last_error: Some(last_error.as_deref()),
        provider_info: info.as_deref(),
        ..Default::default()
    };
    rows::update(
        &ctx.db,
        user_id,
        &stored.id,
        Some(stored.version),
        &c,
        &audit,
        &at,
    )
    .await
    .map_err(db_error)?;
    let rec = rows::get(&ctx.db, user_id, &stored.id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(&stored.id))?;
    Ok(Completed::Connected {
        view: Box::new(rec.into()),
        created: stored.created,
    })
}

struct Stored {
    id: String,
    version: i64,
    created: bool,
}

/// Stores the grant's tokens encrypted, as a new datasource or over the one
/// being re-authorised (revoking the grant it replaces). The row starts
/// `pending` until the first check. A grant for a datasource deleted
/// meanwhile is revoked at once rather than dropped on the floor.
async fn store_grant(
    ctx: &Ctx<'_>,
    provider: &dyn Provider,
    pending: &oauth_states::State,
    entry: &Entry,
    tokens: &oauth::TokenSet,
) -> Result<Stored, ApiError> {
    let at = timestamp(ctx.now());
    let expires = tokens.expires_at.map(timestamp);
    let secret = Secret::Oauth {
        tokens: tokens.clone(),
    };
    if let Some(existing_id) = &pending.datasource_id {
        let Some(rec) = rows::get(&ctx.db, &pending.user_id, existing_id)
            .await
            .map_err(db_error)?
        else {
            let said = revoke(ctx, provider, tokens).await;
            return Err(ApiError::not_found(format!(
                "datasource {existing_id:?} was deleted during the authorisation; {}",
                said.unwrap_or_else(|| "the provider offers no revocation".into())
            )));
        };
        let replaced = previous_tokens(ctx, &rec).await;
        let sealed = ctx.seal(&rec.id, &rec.user_id, &secret).await?;
        let audit = ctx.audit(&rec.user_id, &rec.id, "reauthorize", None, &at);
        let t = NewTokens {
            credentials: &sealed,
            token_expires_at: expires.as_deref(),
            status: Status::Pending.as_str(),
            last_error: None,
            lease: None,
        };
        if !creds::store_tokens(&ctx.db, &rec.id, rec.credentials_version, &t, &audit, &at)
            .await
            .map_err(db_error)?
        {
            let said = revoke(ctx, provider, tokens).await;
            return Err(ApiError::Conflict {
                detail: format!(
                    "the datasource changed during authorisation; retry ({})",
                    said.unwrap_or_else(|| "the new grant was not kept".into())
                ),
            });
        }
        if let Some(old) = replaced.filter(|old| old.refresh_token != tokens.refresh_token) {
            if let Some(said) = revoke(ctx, provider, &old).await {
                let at = timestamp(ctx.now());
                let note = ctx.audit(&rec.user_id, &rec.id, "revoke_replaced", Some(&said), &at);
                crate::storage::audit::insert(&ctx.db, &note)
                    .map_err(db_error)?
                    .run()
                    .await
                    .map_err(db_error)?;
            }
        }
        return Ok(Stored {
            id: rec.id,
            version: rec.credentials_version + 1,
            created: false,
        });
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
        sync_frequency_minutes: carbon_core::providers::default_sync_minutes(&entry.integration),
        credentials: Some(&sealed),
        credential_hint: Some("OAuth authorisation"),
        token_expires_at: expires.as_deref(),
        tokens_refreshed_at: Some(&at),
        provider_info: None,
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
    Ok(Stored {
        id,
        version: 1,
        created: true,
    })
}

/// The grant a re-authorisation replaces, if it can still be read.
async fn previous_tokens(ctx: &Ctx<'_>, rec: &datasources::Record) -> Option<TokenSet> {
    rec.credentials.as_ref()?;
    match ctx.open(rec, "revoke replaced grant").await {
        Ok(Secret::Oauth { tokens }) => Some(tokens),
        _ => None,
    }
}
