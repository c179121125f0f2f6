//! Authenticating a request: the token from the request, one verifier per
//! isolate (keys, JWKS cache, tokens already verified), the JWKS fetched with
//! the Workers `fetch`. The checks themselves live in `carbon_core::auth`.

use std::cell::RefCell;
use std::time::Duration;

use carbon_core::auth::{
    AuthConfig, AuthError, JwksCache, JwksFetcher, KeySource, Session, Verifier, VerifyingKey,
};
use carbon_core::error::ApiError;
use carbon_core::providers::HttpRequest;
use worker::{Delay, Env, Headers, Request};

use crate::config::{self, KeyConfig};

/// The bearer token, from `Authorization: Bearer` or else Clerk's `__session`
/// cookie (same-site requests from the frontend send the cookie).
pub fn token_from(headers: &Headers) -> Option<String> {
    if let Ok(Some(value)) = headers.get("Authorization") {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned())
            .filter(|t| !t.is_empty());
    }
    let cookies = headers.get("Cookie").ok().flatten()?;
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "__session")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|t| !t.is_empty())
}

pub async fn authenticate(req: &Request, env: &Env) -> Result<Session, ApiError> {
    let token = token_from(req.headers()).ok_or(AuthError::Missing)?;
    let settings = config::auth_config(env);
    let (auth_config, key_config) = settings.as_ref().as_ref().map_err(ApiError::internal)?;
    let verifier = config::per_isolate(env, "verifier", |_| verifier(auth_config, key_config));
    let verifier = verifier.as_ref().as_ref().map_err(ApiError::internal)?;
    let fetcher = WorkerJwks(match key_config {
        KeyConfig::JwksUrl(url) => url.clone(),
        KeyConfig::Pem(_) => String::new(),
    });
    Ok(verifier
        .verify(&token, &fetcher, crate::clock::now())
        .await?)
}

/// The isolate's verifier (keys, JWKS cache, tokens already verified), made
/// once per isolate from its settings.
fn verifier(auth_config: &AuthConfig, keys: &KeyConfig) -> Result<Verifier, String> {
    let source = match keys {
        KeyConfig::Pem(pem) => {
            KeySource::Pem(VerifyingKey::from_pem(pem).map_err(|e| e.to_string())?)
        }
        KeyConfig::JwksUrl(_) => KeySource::Jwks(RefCell::new(JwksCache::default())),
    };
    Ok(Verifier::new(auth_config.clone(), source))
}

const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

/// The JWKS fetch under way on this isolate, and the last one's result.
///
/// Workers do not let one request await a promise (I/O) that another
/// request created: the waiter is cancelled as hung. Memory is shared,
/// though, so a request that finds a fetch under way waits on a timer of
/// its own and reads the owner's result from here.
#[derive(Default)]
struct Flight {
    /// Generation and start time (ms) of the fetch under way.
    running: Option<(u64, f64)>,
    generations: u64,
    done: Option<(u64, Result<String, String>)>,
}

thread_local! {
    static FLIGHT: RefCell<Flight> = RefCell::new(Flight::default());
}

const JOIN_POLL: Duration = Duration::from_millis(20);

struct WorkerJwks(String);

impl JwksFetcher for WorkerJwks {
    async fn verify_rs256(
        &self,
        key: &VerifyingKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        crate::crypto::verify_rs256(key, message, signature)
            .await
            .map_err(|e| format!("verifying the signature: {e}"))
    }

    async fn fetch_jwks(&self) -> Result<String, String> {
        let now = js_sys::Date::now();
        let abandoned_after = (JWKS_TIMEOUT.as_millis() + 1000) as f64;
        // A fetch under way (and not abandoned by a cancelled request): wait
        // for its result instead of starting another.
        let running = FLIGHT.with_borrow(|f| f.running);
        if let Some((generation, started)) = running.filter(|(_, at)| now - at < abandoned_after) {
            loop {
                Delay::from(JOIN_POLL).await;
                let result = FLIGHT.with_borrow(|f| match &f.done {
                    Some((g, r)) if *g == generation => Some(r.clone()),
                    _ => None,
                });
                if let Some(result) = result {
                    return result;
                }
                if js_sys::Date::now() - started >= abandoned_after {
                    return Err("timed out waiting for the key fetch under way".into());
                }
            }
        }
        let generation = FLIGHT.with_borrow_mut(|f| {
            f.generations += 1;
            f.running = Some((f.generations, now));
            f.generations
        });
        let result = fetch_once(&self.0).await;
        FLIGHT.with_borrow_mut(|f| {
            if f.running.is_some_and(|(g, _)| g == generation) {
                f.running = None;
            }
            f.done = Some((generation, result.clone()));
        });
        result
    }
}

/// One JWKS fetch. Its cause goes to the log here, once; clients get an
/// opaque 503.
async fn fetch_once(url: &str) -> Result<String, String> {
    let result = fetch_jwks_document(url).await;
    if let Err(cause) = &result {
        worker::console_error!(
            "{}",
            serde_json::json!({"level": "error", "msg": "jwks fetch failed", "error": cause})
        );
    }
    result
}

async fn fetch_jwks_document(url: &str) -> Result<String, String> {
    // Bounded like every provider call: a hung or huge key endpoint must not
    // hang or exhaust every authenticated request.
    let resp = crate::outbound::send_within(&HttpRequest::get(url.to_owned()), JWKS_TIMEOUT)
        .await
        .map_err(|e| format!("fetching JWKS: {e}"))?;
    if resp.status != 200 {
        return Err(format!("JWKS endpoint answered {}", resp.status));
    }
    String::from_utf8(resp.body).map_err(|_| "JWKS body is not UTF-8".to_owned())
}
