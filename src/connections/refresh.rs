//! Keeping OAuth tokens fresh, with exactly one refresh at a time per
//! connection even when a check, a webhook and the cron hit it together.
//!
//! The winner of a lease (`refresh_lock_until`, taken with a compare-and-swap
//! on `credentials_version`) calls the provider and stores the new tokens,
//! rotating refresh token included, before anything uses them. Losers wait
//! and re-read the row until the version moves on. Rotating refresh tokens
//! (Xero, Enphase) are single-use, so a second refresh would fail the grant.

use std::time::Duration as StdDuration;

use carbon_core::datasources::{timestamp, Record, Status};
use carbon_core::error::ApiError;
use carbon_core::oauth::{needs_refresh, parse_token_response, TokenError, TokenSet};
use carbon_core::providers::{self, Provider};
use chrono::Duration;
use worker::Delay;

use super::{db_error, Ctx, Secret};
use crate::outbound;
use crate::storage::datasources::{self as rows, NewTokens};

/// How long a refresh lease lasts: longer than any token request takes,
/// short enough that a crashed winner does not block the connection long.
const LEASE: Duration = Duration::seconds(30);
const WAIT_STEP: StdDuration = StdDuration::from_millis(200);
const WAIT_STEPS: u32 = 50;

/// The row's tokens, refreshed first when they are within the provider's
/// margin of expiry (or when `force`, after a provider answered 401).
pub async fn fresh_tokens(
    ctx: &Ctx<'_>,
    rec: &Record,
    force: bool,
    purpose: &str,
) -> Result<TokenSet, ApiError> {
    let provider = providers::provider(&rec.integration_id)
        .ok_or_else(|| ApiError::internal("no provider"))?;
    let Secret::Oauth { tokens } = ctx.open(rec, purpose).await? else {
        return Err(ApiError::internal("OAuth datasource holds key credentials"));
    };
    if !force && !needs_refresh(&tokens, ctx.now(), providers::refresh_margin(provider)) {
        return Ok(tokens);
    }
    refresh(ctx, provider, rec, tokens).await
}

async fn refresh(
    ctx: &Ctx<'_>,
    provider: &dyn Provider,
    rec: &Record,
    tokens: TokenSet,
) -> Result<TokenSet, ApiError> {
    let now = ctx.now();
    let lease_until = timestamp(now + LEASE);
    if rows::claim_refresh(
        &ctx.db,
        &rec.id,
        rec.credentials_version,
        &timestamp(now),
        &lease_until,
    )
    .await
    .map_err(db_error)?
    {
        let result = refresh_as_winner(ctx, provider, rec, tokens).await;
        if result.is_err() {
            // Success and reauth_required release the lease with their write.
            let _ = rows::release_refresh(&ctx.db, &rec.id).await;
        }
        return result;
    }
    wait_for_winner(ctx, rec).await
}

async fn refresh_as_winner(
    ctx: &Ctx<'_>,
    provider: &dyn Provider,
    rec: &Record,
    tokens: TokenSet,
) -> Result<TokenSet, ApiError> {
    let spec = provider
        .oauth()
        .ok_or_else(|| ApiError::internal("refresh without OAuth"))?;
    let settings = ctx.settings();
    let client = spec
        .client(&settings)
        .map_err(|missing| ApiError::ServiceUnavailable {
            detail: format!("{missing} is not configured"),
        })?;
    let Some(refresh_token) = tokens.refresh_token.as_deref() else {
        return reauth(ctx, rec, "the provider issued no refresh token").await;
    };
    let sent = outbound::send(&spec.refresh_request(&settings, &client, refresh_token)).await;
    let now = ctx.now();
    let parsed = match sent {
        Ok(resp) => parse_token_response(resp.status, &resp.body, now, Some(refresh_token)),
        Err(e) => Err(TokenError::Malformed(e)),
    };
    let new = match parsed {
        Ok(new) => new,
        Err(TokenError::InvalidGrant(reason)) => {
            return reauth(ctx, rec, &format!("invalid_grant: {reason}")).await
        }
        Err(other) => {
            // Transient: leave the connection as it is; the caller releases the lease.
            return Err(ApiError::BadGateway {
                detail: format!("refreshing the token failed: {other}"),
            });
        }
    };
    let sealed = ctx
        .seal(
            &rec.id,
            &rec.user_id,
            &Secret::Oauth {
                tokens: new.clone(),
            },
        )
        .await?;
    let at = timestamp(now);
    let expires = new.expires_at.map(timestamp);
    let entry = ctx.audit(&rec.user_id, &rec.id, "refresh", None, &at);
    let stored = rows::store_tokens(
        &ctx.db,
        &rec.id,
        rec.credentials_version,
        &NewTokens {
            credentials: &sealed,
            token_expires_at: expires.as_deref(),
            settings: None,
            status: Status::Active.as_str(),
            last_error: None,
        },
        &entry,
        &at,
    )
    .await
    .map_err(db_error)?;
    if !stored {
        // Only possible if the row was deleted or rewritten meanwhile.
        return Err(ApiError::Conflict {
            detail: "the datasource changed while its token was refreshed".into(),
        });
    }
    Ok(new)
}

async fn reauth(ctx: &Ctx<'_>, rec: &Record, reason: &str) -> Result<TokenSet, ApiError> {
    let at = timestamp(ctx.now());
    let message =
        format!("the provider no longer accepts this connection ({reason}); reconnect it");
    let entry = ctx.audit(&rec.user_id, &rec.id, "reauth_required", Some(reason), &at);
    rows::set_status(
        &ctx.db,
        &rec.id,
        Status::ReauthRequired.as_str(),
        Some(&message),
        &entry,
        &at,
    )
    .await
    .map_err(db_error)?;
    Err(ApiError::Conflict { detail: message })
}

/// Someone else holds the lease: wait for their tokens instead of spending
/// the (single-use) refresh token a second time.
async fn wait_for_winner(ctx: &Ctx<'_>, rec: &Record) -> Result<TokenSet, ApiError> {
    for _ in 0..WAIT_STEPS {
        Delay::from(WAIT_STEP).await;
        let Some(now) = rows::get_by_id(&ctx.db, &rec.id).await.map_err(db_error)? else {
            return Err(super::not_found(&rec.id));
        };
        if now.status == Status::ReauthRequired.as_str() {
            return Err(ApiError::Conflict {
                detail: now
                    .last_error
                    .unwrap_or_else(|| "reconnect this data source".into()),
            });
        }
        if now.credentials_version > rec.credentials_version {
            let Secret::Oauth { tokens } = ctx.open(&now, "use refreshed token").await? else {
                return Err(ApiError::internal("OAuth datasource holds key credentials"));
            };
            return Ok(tokens);
        }
    }
    Err(ApiError::ServiceUnavailable {
        detail: "another token refresh for this datasource is still running; retry shortly".into(),
    })
}

/// The scheduled job: refresh OAuth connections whose tokens are a week
/// old, so refresh tokens (Enphase: a month, Xero: 60 days) never lapse for
/// connections nobody used. Returns (refreshed, failed).
pub async fn refresh_stale(ctx: &Ctx<'_>) -> Result<(u32, u32), ApiError> {
    let before = timestamp(ctx.now() - Duration::days(7));
    let stale = rows::stale_oauth(&ctx.db, &before, 50)
        .await
        .map_err(db_error)?;
    let (mut ok, mut failed) = (0, 0);
    for rec in stale {
        match fresh_tokens(ctx, &rec, true, "scheduled refresh").await {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    Ok((ok, failed))
}
