//! Rate limits on everything that reaches a provider, through Cloudflare's
//! rate-limiting binding (it runs under local workerd too). Providers limit
//! the platform's client, not each customer: one user looping on `check`
//! must not spend everyone's Enphase quota, and `POST /datasources` must not
//! be a free oracle for stolen API keys.
//!
//! The binding counts per key within a fixed window (10 or 60 s). In
//! production it is approximate and per Cloudflare location: these are
//! abuse brakes, not exact quotas (provider quotas are the sync engine's).

use carbon_core::error::ApiError;
use worker::Env;

/// A limit: its binding (in `wrangler.toml`), the window it counts over, and
/// what the key is.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    binding: &'static str,
    period_secs: u32,
    what: &'static str,
}

/// Connection attempts with new credentials, per user (10 a minute).
pub const CONNECT: Limit = Limit {
    binding: "CONNECT_LIMITER",
    period_secs: 60,
    what: "connection attempts",
};

/// Requests that call a provider, per user (30 a minute).
pub const PROVIDER_CALLS: Limit = Limit {
    binding: "PROVIDER_CALLS_LIMITER",
    period_secs: 60,
    what: "requests that reach a provider",
};

/// Requests that call a provider for one datasource (5 a minute).
pub const DATASOURCE_CALLS: Limit = Limit {
    binding: "DATASOURCE_CALLS_LIMITER",
    period_secs: 60,
    what: "provider calls for this datasource",
};

/// Files and readings sent, per user (20 a minute): each is parsed and
/// written whole, up to 8 MiB.
pub const DATA_WRITES: Limit = Limit {
    binding: "DATA_WRITES_LIMITER",
    period_secs: 60,
    what: "uploads and readings",
};

/// Webhook deliveries, per source (a user's endpoint, or a provider): 600
/// every 10 s, a brake on floods rather than on senders' bursts.
pub const WEBHOOKS: Limit = Limit {
    binding: "WEBHOOKS_LIMITER",
    period_secs: 10,
    what: "webhook deliveries to this endpoint",
};

/// Counts one request against `limit` for `key`; over it, a 429 with
/// `Retry-After` (the window's length: the binding does not say when the
/// window resets). A missing binding is a configuration fault, not a pass.
pub async fn take(env: &Env, limit: Limit, key: &str) -> Result<(), ApiError> {
    let limiter = env.rate_limiter(limit.binding).map_err(|_| {
        ApiError::internal(format!(
            "configuration: the rate-limiting binding {} is missing",
            limit.binding
        ))
    })?;
    let outcome = limiter
        .limit(format!("{}:{key}", limit.binding))
        .await
        .map_err(|e| ApiError::internal(format!("rate limiter {}: {e}", limit.binding)))?;
    if outcome.success {
        return Ok(());
    }
    Err(ApiError::TooManyRequests {
        detail: format!(
            "too many {}; retry in {} seconds",
            limit.what, limit.period_secs
        ),
        retry_after_secs: limit.period_secs,
    })
}
