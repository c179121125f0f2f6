//! Keeping OAuth tokens fresh, with exactly one refresh at a time per
//! connection even when a check, a sync and the cron hit it together.
//!
//! The winner of a lease (`refresh_lock_until` + `refresh_lock_id`, taken
//! with a compare-and-swap on `credentials_version`) calls the provider and
//! stores the new tokens, rotating refresh token included, before anything
//! uses them. Losers wait and re-read the row until the version moves on.
//! Rotating refresh tokens (Xero, Enphase) are single-use, so a second
//! refresh with the same token would fail the grant.
//!
//! The lease cannot lapse under a live winner: the whole provider exchange
//! (headers and body) has a deadline well inside the lease, and the store
//! that follows is retried only while time remains. Every write after the
//! exchange names the lease (release, reauth, failure) or the version
//! (store), so a caller that lost the race cannot undo the winner's work.

use std::time::Duration as StdDuration;

use carbon_core::datasources::{new_id, timestamp, Record, Status};
use carbon_core::error::ApiError;
use carbon_core::oauth::{needs_refresh, parse_token_response, TokenError, TokenSet};
use carbon_core::providers::{self, Provider};
use chrono::Duration;
use worker::Delay;

use super::{db_error, Ctx, Secret};
use crate::outbound;
use crate::random;
use crate::storage::credentials::{self as creds, NewTokens};
use crate::storage::datasources as rows;

/// How long a refresh lease lasts.
const LEASE: Duration = Duration::seconds(45);
/// The token exchange's deadline, headers and body: a third of the lease,
/// leaving the rest for storing the result (with retries).
const EXCHANGE_DEADLINE: StdDuration = StdDuration::from_secs(15);
/// Attempts at storing rotated tokens when D1 fails, and the pause between.
const STORE_ATTEMPTS: u32 = 4;
const STORE_PAUSE: StdDuration = StdDuration::from_millis(500);
const WAIT_STEP: StdDuration = StdDuration::from_millis(200);
/// Losers wait a little longer than a lease before giving up.
const WAIT_STEPS: u32 = 250;
/// Transient failures in a row before the keep-alive job parks a
/// connection (status `error` with the reason) instead of retrying forever.
pub const PARK_AFTER: i64 = 5;

/// Tokens ready to use, and the credentials version they belong to (the
/// version a final write compares and swaps on).
pub struct Fresh {
    pub tokens: TokenSet,
    pub version: i64,
}

/// The row's tokens, refreshed first when they are within the provider's
/// margin of expiry (or when `force`, after a provider answered 401).
pub async fn fresh_tokens(
    ctx: &Ctx<'_>,
    rec: &Record,
    force: bool,
    purpose: &str,
) -> Result<Fresh, ApiError> {
    let provider = providers::provider(&rec.integration_id)
        .ok_or_else(|| ApiError::internal("no provider"))?;
    let Secret::Oauth { tokens } = ctx.open(rec, purpose).await? else {
        return Err(ApiError::internal("OAuth datasource holds key credentials"));
    };
    if !force && !needs_refresh(&tokens, ctx.now(), providers::refresh_margin(provider)) {
        return Ok(Fresh {
            tokens,
            version: rec.credentials_version,
        });
    }
    let lease = new_id("lease", random::bytes());
    let now = ctx.now();
    let won = creds::claim_refresh(
        &ctx.db,
        &rec.id,
        rec.credentials_version,
        &lease,
        &timestamp(now),
        &timestamp(now + LEASE),
    )
    .await
    .map_err(db_error)?;
    if !won {
        return wait_for_winner(ctx, rec).await;
    }
    match refresh_as_winner(ctx, provider, rec, tokens, &lease).await {
        Ok(Some(fresh)) => Ok(fresh),
        // Someone else's write won (the grant was replaced or refreshed):
        // use what is stored now.
        Ok(None) => wait_for_winner(ctx, rec).await,
        Err(err) => Err(err),
    }
}

/// Refreshes while holding `lease`. `Ok(None)`: the row moved on under us.
async fn refresh_as_winner(
    ctx: &Ctx<'_>,
    provider: &dyn Provider,
    rec: &Record,
    tokens: TokenSet,
    lease: &str,
) -> Result<Option<Fresh>, ApiError> {
    let spec = provider
        .oauth()
        .ok_or_else(|| ApiError::internal("refresh without OAuth"))?;
    let settings = ctx.settings();
    let client = match spec.client(&settings) {
        Ok(client) => client,
        Err(missing) => {
            let _ = creds::release_refresh(&ctx.db, &rec.id, lease).await;
            return Err(ApiError::ServiceUnavailable {
                detail: format!("{missing} is not configured"),
            });
        }
    };
    let Some(refresh_token) = tokens.refresh_token.as_deref() else {
        return reauth(ctx, rec, lease, "the provider issued no refresh token").await;
    };
    let request = spec.refresh_request(&settings, &client, refresh_token);
    let sent = outbound::send_within(&request, EXCHANGE_DEADLINE).await;
    let now = ctx.now();
    let parsed = match sent {
        Ok(resp) => parse_token_response(resp.status, &resp.body, now, Some(refresh_token)),
        Err(e) => Err(TokenError::Malformed(e.to_string())),
    };
    let new = match parsed {
        Ok(new) => new,
        Err(TokenError::InvalidGrant(reason)) => {
            return reauth(ctx, rec, lease, &format!("invalid_grant: {reason}")).await
        }
        Err(other) => return Err(transient_failure(ctx, rec, lease, &other.to_string()).await),
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
    let t = NewTokens {
        credentials: &sealed,
        token_expires_at: expires.as_deref(),
        status: Status::Active.as_str(),
        last_error: None,
        lease: Some(lease),
    };
    // The provider has rotated the refresh token: the old one is spent, so
    // losing the new one loses the grant. Retry a failing D1 (Xero honours
    // the old token for 30 minutes; Enphase does not).
    let mut last_error = None;
    for attempt in 0..STORE_ATTEMPTS {
        if attempt > 0 {
            Delay::from(STORE_PAUSE * attempt).await;
        }
        match creds::store_tokens(&ctx.db, &rec.id, rec.credentials_version, &t, &entry, &at).await
        {
            Ok(true) => {
                return Ok(Some(Fresh {
                    tokens: new,
                    version: rec.credentials_version + 1,
                }))
            }
            Ok(false) => {
                // Newer credentials were stored meanwhile (re-authorised,
                // replaced or deleted): ours are not needed.
                let _ = creds::release_refresh(&ctx.db, &rec.id, lease).await;
                return Ok(None);
            }
            Err(e) => last_error = Some(e.to_string()),
        }
    }
    let cause = last_error.unwrap_or_default();
    worker::console_error!(
        "{}",
        serde_json::json!({
            "level": "error",
            "msg": "rotated OAuth tokens could not be stored: the grant may be lost",
            "request_id": ctx.request_id,
            "datasource_id": rec.id,
            "error": cause,
        })
    );
    Err(ApiError::internal(format!(
        "storing refreshed tokens failed after {STORE_ATTEMPTS} attempts: {cause}"
    )))
}

/// The grant is dead: `reauth_required`, unless the row moved on (a winner
/// stored fresh tokens, the user re-authorised), in which case those are
/// what the caller gets.
async fn reauth(
    ctx: &Ctx<'_>,
    rec: &Record,
    lease: &str,
    reason: &str,
) -> Result<Option<Fresh>, ApiError> {
    let at = timestamp(ctx.now());
    let message =
        format!("the provider no longer accepts this connection ({reason}); reconnect it");
    let entry = ctx.audit(&rec.user_id, &rec.id, "reauth_required", Some(reason), &at);
    let marked = creds::mark_reauth(
        &ctx.db,
        &rec.id,
        rec.credentials_version,
        lease,
        &message,
        &entry,
        &at,
    )
    .await
    .map_err(db_error)?;
    if !marked {
        let _ = creds::release_refresh(&ctx.db, &rec.id, lease).await;
        return Ok(None);
    }
    Err(ApiError::Conflict { detail: message })
}

/// A provider outage or a malformed answer: the connection stays as it is,
/// the failure is counted with a backoff for the keep-alive job, and after
/// [`PARK_AFTER`] in a row the connection is parked with the reason.
async fn transient_failure(ctx: &Ctx<'_>, rec: &Record, lease: &str, reason: &str) -> ApiError {
    let failures = rec.refresh_failures + 1;
    let now = ctx.now();
    let retry_at = timestamp(now + backoff(failures));
    let park = (failures >= PARK_AFTER).then(|| {
        format!(
            "refreshing the authorisation failed {failures} times in a row (last: {reason}); \
             run a check to retry or reconnect"
        )
    });
    let at = timestamp(now);
    let entry = ctx.audit(&rec.user_id, &rec.id, "refresh_failed", Some(reason), &at);
    if let Err(e) = creds::refresh_failed(
        &ctx.db,
        &rec.id,
        lease,
        &retry_at,
        park.as_deref(),
        &entry,
        &at,
    )
    .await
    {
        return db_error(e);
    }
    ApiError::BadGateway {
        detail: format!("refreshing the token failed: {reason}"),
    }
}

/// When the keep-alive job may try again after `failures` transient
/// failures in a row: 1 h, 2 h, 4 h... at most a day.
pub fn backoff(failures: i64) -> Duration {
    let hours = 1i64 << (failures.clamp(1, 6) - 1);
    Duration::hours(hours.min(24))
}

/// Someone else holds the lease: wait for their tokens instead of spending
/// the (single-use) refresh token a second time.
async fn wait_for_winner(ctx: &Ctx<'_>, rec: &Record) -> Result<Fresh, ApiError> {
    for _ in 0..WAIT_STEPS {
        let Some(now) = rows::get_by_id(&ctx.db, &rec.id).await.map_err(db_error)? else {
            return Err(super::not_found(&rec.id));
        };
        if now.credentials_version > rec.credentials_version {
            let Secret::Oauth { tokens } = ctx.open(&now, "use refreshed token").await? else {
                return Err(ApiError::internal("OAuth datasource holds key credentials"));
            };
            return Ok(Fresh {
                tokens,
                version: now.credentials_version,
            });
        }
        if now.status == Status::ReauthRequired.as_str() {
            return Err(ApiError::Conflict {
                detail: now
                    .last_error
                    .unwrap_or_else(|| "reconnect this data source".into()),
            });
        }
        Delay::from(WAIT_STEP).await;
    }
    Err(ApiError::ServiceUnavailable {
        detail: "another token refresh for this datasource is still running; retry shortly".into(),
    })
}

/// The scheduled job: refresh OAuth connections whose tokens are a week
/// old, so refresh tokens (Enphase: a month, Xero: 60 days) never lapse for
/// connections nobody used. Connections in backoff wait their turn, so one
/// that keeps failing cannot stay first in line. Returns (refreshed, failed).
pub async fn refresh_stale(ctx: &Ctx<'_>) -> Result<(u32, u32), ApiError> {
    let now = ctx.now();
    let before = timestamp(now - Duration::days(7));
    let stale = rows::stale_oauth(&ctx.db, &before, &timestamp(now), 50)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_an_hour_to_a_day() {
        assert_eq!(backoff(1), Duration::hours(1));
        assert_eq!(backoff(2), Duration::hours(2));
        assert_eq!(backoff(5), Duration::hours(16));
        assert_eq!(backoff(6), Duration::hours(24));
        assert_eq!(backoff(60), Duration::hours(24));
    }
}
