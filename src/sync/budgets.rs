//! The provider calls a slice may make, taken from every budget its
//! provider keeps before any call is sent: the app's (all customers) and,
//! where the provider counts that way, each tenant's (Xero organisations).
//! What a slice does not send goes back; what it cannot send before its
//! windows end, it does not send.

use carbon_core::budget::Limit;
use carbon_core::error::ApiError;
use chrono::Duration;
use worker::Env;

use crate::budget;

/// Calls granted to one slice, and by whom.
pub struct Taken {
    /// (budget key, its limits, the instant its grant counted at), the
    /// app's first, the most specific last.
    keys: Vec<(String, Vec<Limit>, i64)>,
    pub calls: u32,
    /// Unix milliseconds after which no granted call may start: the end of
    /// the earliest window they count in, less a margin for the call to
    /// reach the provider.
    pub deadline_ms: Option<i64>,
}

/// Takes up to a fair share of every budget (the smallest grant wins, the
/// excess goes back); `Err(wait)` when one of them has nothing left.
pub async fn take(
    env: &Env,
    keys: Vec<(String, Vec<Limit>)>,
    most: u32,
) -> Result<Result<Taken, Duration>, ApiError> {
    let keys: Vec<_> = keys.into_iter().filter(|k| !k.1.is_empty()).collect();
    if keys.is_empty() {
        return Ok(Ok(Taken {
            keys: Vec::new(),
            calls: u32::MAX,
            deadline_ms: None,
        }));
    }
    let all: Vec<Limit> = keys.iter().flat_map(|k| k.1.iter().copied()).collect();
    let mut want = Limit::share(&all, most);
    let mut taken: Vec<(String, Vec<Limit>, i64)> = Vec::new();
    let mut granted = Vec::new();
    let mut until = i64::MAX;
    for (key, limits) in keys {
        let grant = budget::take(env, &key, want, &limits).await?;
        if grant.calls == 0 {
            for ((key, limits, at), n) in taken.iter().zip(&granted) {
                give_back(env, key, *n, limits, *at).await;
            }
            let wait = grant.retry_after.unwrap_or(60);
            return Ok(Err(Duration::seconds(wait.into())));
        }
        granted.push(grant.calls);
        want = want.min(grant.calls);
        until = until.min(grant.until);
        taken.push((key, limits, grant.at));
    }
    for ((key, limits, at), n) in taken.iter().zip(&granted) {
        if *n > want {
            give_back(env, key, n - want, limits, *at).await;
        }
    }
    let margin_ms = Limit::send_margin_ms(&all);
    Ok(Ok(Taken {
        keys: taken,
        calls: want,
        deadline_ms: Some(until.saturating_mul(1000) - margin_ms),
    }))
}

/// Best effort: calls not returned only slow other slices down.
async fn give_back(env: &Env, key: &str, calls: u32, limits: &[Limit], taken_at: i64) {
    if let Err(e) = budget::give_back(env, key, calls, limits, taken_at).await {
        worker::console_error!("budget give-back for {key}: {e:?}");
    }
}

impl Taken {
    /// The slice sent `sent` calls: the rest go back.
    pub async fn settle(&self, env: &Env, sent: u32) {
        if sent >= self.calls {
            return;
        }
        for (key, limits, at) in &self.keys {
            give_back(env, key, self.calls - sent, limits, *at).await;
        }
    }

    /// The provider refused calls until `until`: the tenants' budgets close
    /// where there are any (which one the refusal was for is not known),
    /// else the app's.
    pub async fn close(&self, env: &Env, until: i64) -> Result<(), ApiError> {
        let specific = if self.keys.len() > 1 {
            &self.keys[1..]
        } else {
            &self.keys[..]
        };
        for (key, ..) in specific {
            budget::close(env, key, until).await?;
        }
        Ok(())
    }
}
