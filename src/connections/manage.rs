//! Checking and disconnecting existing connections.

use carbon_core::datasources::{timestamp, Record, Status, View};
use carbon_core::error::ApiError;
use carbon_core::providers::{self, Probe};

use super::refresh::fresh_tokens;
use super::{db_error, not_found, probe, probe_oauth, Ctx, Secret};
use crate::outbound;
use crate::storage::datasources as rows;

/// `POST /datasources/{id}/check`: proves the connection works now. OAuth
/// tokens are refreshed first when due; a 401 from the provider triggers
/// one forced refresh and a retry, then `reauth_required`. The result is
/// written only if the credentials are still the ones checked: a check
/// racing with new credentials or a re-authorisation never overwrites them.
pub async fn check(ctx: &Ctx<'_>, rec: Record) -> Result<View, ApiError> {
    if rec.enabled == 0 {
        return Err(ApiError::Conflict {
            detail: "this datasource is disabled; enable it first".into(),
        });
    }
    if matches!(rec.auth_type.as_str(), "file_upload" | "manual" | "webhook") {
        return Err(ApiError::Conflict {
            detail: "this datasource's data is uploaded or typed in; there is no provider to check"
                .into(),
        });
    }
    let provider = providers::provider(&rec.integration_id).ok_or_else(|| ApiError::Conflict {
        detail: "this integration has no connector yet".into(),
    })?;
    let settings = ctx.settings();
    let (outcome, version) = if provider.oauth().is_some() {
        // After refresh failures (a parked connection included), a check
        // proves the refresh works too, which clears the backoff.
        let force = rec.refresh_failures > 0;
        let fresh = fresh_tokens(ctx, &rec, force, "check").await?;
        let first = probe_oauth(ctx.env, provider, fresh.tokens, &settings).await;
        match first {
            Probe::Unauthorized(_) => {
                let current = rows::get(&ctx.db, &rec.user_id, &rec.id)
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| not_found(&rec.id))?;
                let fresh = fresh_tokens(ctx, &current, true, "check after 401").await?;
                let again = probe_oauth(ctx.env, provider, fresh.tokens, &settings).await;
                (again, fresh.version)
            }
            other => (other, fresh.version),
        }
    } else {
        let secret = ctx.open(&rec, "check").await?;
        (
            probe(ctx.env, provider, secret.as_secrets(), &settings).await,
            rec.credentials_version,
        )
    };
    let at = timestamp(ctx.now());
    let (status, error, info) = match outcome {
        Probe::Ok(info) => (Status::Active, None, Some(info.to_string())),
        Probe::Unauthorized(r) if provider.oauth().is_some() => (
            Status::ReauthRequired,
            Some(format!(
                "the provider refused the authorisation: {r}; reconnect"
            )),
            None,
        ),
        Probe::Unauthorized(r) | Probe::Rejected(r) => (
            Status::Error,
            Some(format!("the provider refused the credentials: {r}")),
            None,
        ),
        Probe::Unavailable(r) | Probe::Unreachable(r) => {
            return Err(ApiError::ServiceUnavailable {
                detail: format!("the provider is unavailable: {r}"),
            })
        }
    };
    let entry = ctx.audit(&rec.user_id, &rec.id, "check", Some(status.as_str()), &at);
    let c = rows::Changes {
        status: Some(status.as_str()),
        last_error: Some(error.as_deref()),
        provider_info: info.as_deref(),
        ..Default::default()
    };
    let written = rows::update(
        &ctx.db,
        &rec.user_id,
        &rec.id,
        Some(version),
        &c,
        &entry,
        &at,
    )
    .await
    .map_err(db_error)?;
    if !written {
        return Err(ApiError::Conflict {
            detail: "the datasource's credentials changed during the check; its result was \
                     not stored, check again"
                .into(),
        });
    }
    let stored = rows::get(&ctx.db, &rec.user_id, &rec.id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(&rec.id))?;
    Ok(stored.into())
}

/// `DELETE /datasources/{id}`: revokes the grant at the provider where it
/// offers revocation (best effort: a provider outage must not keep the
/// credentials alive here), then destroys the credentials at once.
pub async fn delete(ctx: &Ctx<'_>, rec: Record) -> Result<(), ApiError> {
    let mut detail = "credentials destroyed".to_owned();
    if let Some(provider) = providers::provider(&rec.integration_id) {
        if provider.oauth().is_some() && rec.credentials.is_some() {
            if let Ok(Secret::Oauth { tokens }) = ctx.open(&rec, "revoke").await {
                if let Some(said) = revoke(ctx, provider, &tokens).await {
                    detail = format!("{said}; credentials destroyed");
                }
            }
        }
    }
    let at = timestamp(ctx.now());
    let entry = ctx.audit(&rec.user_id, &rec.id, "delete", Some(&detail), &at);
    if !rows::soft_delete(&ctx.db, &rec.user_id, &rec.id, &entry, &at)
        .await
        .map_err(db_error)?
    {
        return Err(not_found(&rec.id));
    }
    Ok(())
}

/// Revokes a grant at the provider where it offers revocation (best effort).
/// `None` when the provider has no revocation; otherwise what happened.
pub async fn revoke(
    ctx: &Ctx<'_>,
    provider: &dyn providers::Provider,
    tokens: &carbon_core::oauth::TokenSet,
) -> Option<String> {
    let req = provider.revoke(tokens, &ctx.settings())?;
    Some(match outbound::send(&req).await {
        Ok(resp) if (200..300).contains(&resp.status) => "grant revoked at the provider".into(),
        Ok(resp) => format!("provider revocation answered {}", resp.status),
        Err(e) => format!("provider revocation failed ({e})"),
    })
}
