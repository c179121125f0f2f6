//! Authenticating a request: the token from the request, one verifier per
//! isolate (keys, JWKS cache, tokens already verified), the JWKS fetched with
//! the Workers `fetch`. The checks themselves live in `carbon_core::auth`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use carbon_core::auth::{
    AuthConfig, AuthError, JwksCache, JwksFetcher, KeySource, Session, Verifier, VerifyingKey,
};
use carbon_core::error::ApiError;
use futures_util::future::{select, Either};
use worker::{Delay, Env, Fetch, Headers, Method, Request, RequestInit};

use crate::config::{self, KeyConfig};

thread_local! {
    /// The verifier for this isolate (keys, JWKS cache, verified tokens),
    /// rebuilt only if the configuration changes.
    static VERIFIER: RefCell<Option<(KeyConfig, Rc<Verifier>)>> = const { RefCell::new(None) };
}

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
    let (auth_config, key_config) = config::auth_config(env).map_err(ApiError::internal)?;
    let verifier = verifier(auth_config, &key_config)?;
    let fetcher = WorkerJwks(match &key_config {
        KeyConfig::JwksUrl(url) => url.clone(),
        KeyConfig::Pem(_) => String::new(),
    });
    Ok(verifier.verify(&token, &fetcher, crate::app::now()).await?)
}

fn verifier(auth_config: AuthConfig, keys: &KeyConfig) -> Result<Rc<Verifier>, ApiError> {
    let current = VERIFIER.with_borrow(|slot| {
        slot.as_ref()
            .filter(|(k, v)| k == keys && v.config == auth_config)
            .map(|(_, v)| v.clone())
    });
    if let Some(verifier) = current {
        return Ok(verifier);
    }
    let source = match keys {
        KeyConfig::Pem(pem) => KeySource::Pem(
            VerifyingKey::from_pem(pem).map_err(|e| ApiError::internal(e.to_string()))?,
        ),
        KeyConfig::JwksUrl(_) => KeySource::Jwks(RefCell::new(JwksCache::default())),
    };
    let verifier = Rc::new(Verifier::new(auth_config, source));
    VERIFIER.set(Some((keys.clone(), verifier.clone())));
    Ok(verifier)
}

const JWKS_TIMEOUT: Duration = Duration::from_secs(5);

struct WorkerJwks(String);

impl JwksFetcher for WorkerJwks {
    async fn fetch_jwks(&self) -> Result<String, String> {
        let mut init = RequestInit::new();
        init.with_method(Method::Get);
        let request = Request::new_with_init(&self.0, &init).map_err(|e| e.to_string())?;
        let _ = request.headers().set("Accept", "application/json");
        // A hung key endpoint must not hang every authenticated request.
        let fetch = Fetch::Request(request);
        let send = Box::pin(fetch.send());
        let timeout = Delay::from(JWKS_TIMEOUT);
        let mut response = match select(send, timeout).await {
            Either::Left((result, _)) => result.map_err(|e| format!("fetching JWKS: {e}"))?,
            Either::Right(_) => {
                return Err(format!(
                    "JWKS endpoint did not answer within {JWKS_TIMEOUT:?}"
                ))
            }
        };
        if response.status_code() != 200 {
            return Err(format!("JWKS endpoint answered {}", response.status_code()));
        }
        response.text().await.map_err(|e| e.to_string())
    }
}
