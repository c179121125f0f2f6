//! The provider calls a slice may make, taken from every budget its
//! provider keeps before any call is sent: the app's (all customers) and,
//! where the provider counts that way, the tenant's (Xero organisations).
//! What a slice does not send goes back.

use carbon_core::budget::Limit;
use carbon_core::error::ApiError;
use chrono::Duration;
use worker::Env;

use crate::budget;

/// Calls granted to one slice, and by whom.
pub struct Taken {
    /// (budget key, its limits), the app's first, the most specific last.
    keys: Vec<(String, Vec<Limit>)>,
    pub calls: u32,
    taken_at: i64,
}

/// Takes up to a fair share of every budget, and at least `need` calls
/// (the smallest grant wins, the excess goes back); `Err(wait)` when one of
/// them cannot give that much before its window turns.
pub async fn take(
    env: &Env,
    keys: Vec<(String, Vec<Limit>)>,
    (most, need): (u32, u32),
    now: i64,
) -> Result<Result<Taken, Duration>, ApiError> {
    let keys: Vec<_> = keys.into_iter().filter(|k| !k.1.is_empty()).collect();
    if keys.is_empty() {
        let calls = u32::MAX;
        return Ok(Ok(Taken {
            keys,
            calls,
            taken_at: now,
        }));
    }
    let all: Vec<Limit> = keys.iter().flat_map(|k| k.1.iter().copied()).collect();
    let need = need.clamp(1, most);
    let mut want = Limit::share(&all, most).max(need);
    let mut granted = Vec::new();
    for (key, limits) in &keys {
        let grant = budget::take(env, key, (want, need), limits, now).await?;
        if grant.calls == 0 {
            for ((key, limits), n) in keys.iter().zip(&granted) {
                give_back(env, key, *n, limits, now).await;
            }
            let wait = grant.retry_after.unwrap_or(60);
            return Ok(Err(Duration::seconds(wait.into())));
        }
        granted.push(grant.calls);
        want = want.min(grant.calls);
    }
    for ((key, limits), n) in keys.iter().zip(&granted) {
        if *n > want {
            give_back(env, key, n - want, limits, now).await;
        }
    }
    Ok(Ok(Taken {
        keys,
        calls: want,
        taken_at: now,
    }))
}

/// Best effort: calls not returned only slow other slices down.
async fn give_back(env: &Env, key: &str, calls: u32, limits: &[Limit], taken_at: i64) {
    if let Err(e) = budget::give_back(env, key, calls, limits, taken_at).await {
        worker::console_error!("budget give-back for {key}: {e:?}");
    }
}

impl Taken {
    /// What the next slice needs when this one spent every call it had
    /// without writing a page (discovery longer than the grant): twice as
    /// many, so that it gets through.
    pub fn starved(&self, progress: &carbon_core::sync::engine::Progress) -> Option<u32> {
        (!self.keys.is_empty() && progress.pages == 0 && progress.calls >= self.calls)
            .then(|| self.calls.saturating_mul(2))
    }

    /// The slice sent `sent` calls: the rest go back.
    pub async fn settle(&self, env: &Env, sent: u32) {
        if sent >= self.calls {
            return;
        }
        for (key, limits) in &self.keys {
            give_back(env, key, self.calls - sent, limits, self.taken_at).await;
        }
    }

    /// The provider refused calls until `until`: the most specific budget
    /// (the tenant's where there is one) closes, as the provider counts.
    pub async fn close(&self, env: &Env, until: i64) -> Result<(), ApiError> {
        match self.keys.last() {
            Some((key, _)) => budget::close(env, key, until).await,
            None => Ok(()),
        }
    }
}
