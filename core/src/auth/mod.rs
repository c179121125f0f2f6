//! Clerk session-token verification (RS256 JWTs).
//!
//! Follows the order of checks in Clerk's backend SDK
//! (<https://clerk.com/docs/backend-requests/manual-jwt>): header `typ` and an
//! algorithm allow-list first, then the key by `kid`, the signature, and only
//! then the claims (`exp`/`nbf`/`iat` with 5 s of skew, `iss`, `azp`, `sub`).
//! Claims are never read from a token whose signature has not been checked.

pub mod cache;
mod der;
mod keys;
#[cfg(test)]
pub(crate) mod testkeys;
#[cfg(test)]
mod tests;

use std::cell::RefCell;

use chrono::{DateTime, Duration, Utc};
use jwt_compact::{TimeOptions, UntrustedToken};
use serde::Deserialize;

pub use keys::{parse_jwks, JwksCache, KeyError, VerifyingKey, JWKS_REFETCH_INTERVAL};

/// Clock skew tolerated on `exp`, `nbf` and `iat`, as Clerk's SDK does.
pub const CLOCK_SKEW: Duration = Duration::seconds(5);

/// Why a request was not authenticated. `Display` is shown to the client, so
/// it names the failed check and never echoes token contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Malformed,
    UnexpectedType,
    UnsupportedAlgorithm,
    UnknownKey,
    InvalidSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    MissingClaim(&'static str),
    WrongIssuer,
    UnauthorizedParty,
    /// The key set could not be fetched: our problem, not the caller's (503).
    KeysUnavailable(String),
    /// A webhook delivery's signature did not verify (why, in words).
    Webhook(&'static str),
}

impl AuthError {
    pub fn is_missing(&self) -> bool {
        matches!(self, AuthError::Missing)
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthError::Missing => f.write_str(
                "a session token is required (Authorization: Bearer or the __session cookie)",
            ),
            AuthError::Malformed => f.write_str("the session token is not a well-formed JWT"),
            AuthError::UnexpectedType => f.write_str("the session token's typ header is not JWT"),
            AuthError::UnsupportedAlgorithm => {
                f.write_str("the session token must be signed with RS256")
            }
            AuthError::UnknownKey => f.write_str("the session token was signed by an unknown key"),
            AuthError::InvalidSignature => f.write_str("the session token's signature is invalid"),
            AuthError::Expired => f.write_str("the session token has expired"),
            AuthError::NotYetValid => f.write_str("the session token is not valid yet"),
            AuthError::IssuedInFuture => f.write_str("the session token was issued in the future"),
            AuthError::MissingClaim(claim) => {
                write!(f, "the session token lacks the `{claim}` claim")
            }
            AuthError::WrongIssuer => {
                f.write_str("the session token was not issued by the trusted issuer")
            }
            AuthError::UnauthorizedParty => {
                f.write_str("the session token was issued for an origin that is not authorised")
            }
            AuthError::KeysUnavailable(cause) => write!(f, "session keys unavailable: {cause}"),
            AuthError::Webhook(why) => write!(f, "the delivery's signature does not verify: {why}"),
        }
    }
}

/// What a verified session token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Clerk user id (`sub`, `user_...`); every row a user owns is keyed by it.
    pub user_id: String,
    /// Clerk session id (`sid`, `sess_...`).
    pub session_id: Option<String>,
}

/// The checks that depend on configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `CLERK_ISSUER`: the Frontend API URL; `iss` must equal it exactly.
    pub issuer: String,
    /// `CLERK_AUTHORIZED_PARTIES`: origins allowed in `azp`. Empty = not checked.
    pub authorized_parties: Vec<String>,
}

/// Where verifying keys come from.
pub enum KeySource {
    /// `CLERK_JWT_KEY`: one PEM key, no network. `kid` is not consulted.
    Pem(VerifyingKey),
    /// `CLERK_JWKS_URL`: a key set fetched on demand and cached per isolate.
    Jwks(RefCell<JwksCache>),
}

/// What verification needs from the platform: the JWKS document (the Worker
/// fetches it, tests serve a fake) and the RS256 signature check (the Worker
/// asks WebCrypto, natively and outside the wasm; native tests use the `rsa`
/// crate).
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait JwksFetcher {
    async fn fetch_jwks(&self) -> Result<String, String>;

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`. `Err` is the platform
    /// failing (not a bad signature, which is `Ok(false)`).
    async fn verify_rs256(
        &self,
        key: &VerifyingKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, String>;
}

#[derive(Deserialize)]
struct ClerkClaims {
    sub: Option<String>,
    sid: Option<String>,
    iss: Option<String>,
    azp: Option<String>,
}

/// Everything a verification needs that lives as long as the isolate: the
/// configuration, the keys, and the tokens already verified under them.
pub struct Verifier {
    pub config: AuthConfig,
    pub source: KeySource,
    cache: RefCell<cache::SessionCache>,
}

impl Verifier {
    pub fn new(config: AuthConfig, source: KeySource) -> Self {
        Verifier {
            config,
            source,
            cache: RefCell::default(),
        }
    }

    /// [`verify`], skipping the signature check for a token this isolate
    /// already verified (its time claims are still checked).
    pub async fn verify<F: JwksFetcher>(
        &self,
        token: &str,
        fetcher: &F,
        now: DateTime<Utc>,
    ) -> Result<Session, AuthError> {
        let key = cache::token_key(token);
        if let Some(hit) = self.cache.borrow().get(&key, now) {
            return hit;
        }
        let (session, expires, not_before) =
            verify_claims(token, &self.config, &self.source, fetcher, now).await?;
        self.cache
            .borrow_mut()
            .insert(key, session.clone(), expires, not_before);
        Ok(session)
    }

    pub fn cached_sessions(&self) -> usize {
        self.cache.borrow().len()
    }
}

/// Verifies a session token and returns who it belongs to.
pub async fn verify<F: JwksFetcher>(
    token: &str,
    config: &AuthConfig,
    source: &KeySource,
    fetcher: &F,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    verify_claims(token, config, source, fetcher, now)
        .await
        .map(|(s, _, _)| s)
}

type Verified = (Session, DateTime<Utc>, Option<DateTime<Utc>>);

async fn verify_claims<F: JwksFetcher>(
    token: &str,
    config: &AuthConfig,
    source: &KeySource,
    fetcher: &F,
    now: DateTime<Utc>,
) -> Result<Verified, AuthError> {
    let untrusted = UntrustedToken::new(token).map_err(|_| AuthError::Malformed)?;
    let header = untrusted.header();
    if header.token_type.as_deref().is_some_and(|t| t != "JWT") {
        return Err(AuthError::UnexpectedType);
    }
    // The allow-list is RS256 alone: this refuses `none`, and HS256 tokens
    // "signed" with our public key as an HMAC secret.
    if untrusted.algorithm() != "RS256" {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    let key = resolve_key(source, header.key_id.as_deref(), fetcher, now).await?;
    // The signed part is the token up to its last dot, byte for byte.
    let (message, _) = token.rsplit_once('.').ok_or(AuthError::Malformed)?;
    let signature = untrusted.signature_bytes();
    // A 2048-bit or longer key signs exactly as many bytes as its modulus.
    if signature.len() != key.modulus().len() {
        return Err(AuthError::InvalidSignature);
    }
    let valid = fetcher
        .verify_rs256(&key, message.as_bytes(), signature)
        .await
        .map_err(AuthError::KeysUnavailable)?;
    if !valid {
        return Err(AuthError::InvalidSignature);
    }
    // Read only now that the signature is known to be good.
    let claims = untrusted
        .deserialize_claims_unchecked::<ClerkClaims>()
        .map_err(|_| AuthError::Malformed)?;
    let session = check_claims(&claims, config, now)?;
    // check_claims refused a token without `exp`.
    let expires = claims.expiration.ok_or(AuthError::MissingClaim("exp"))?;
    Ok((session, expires, claims.not_before))
}

fn check_claims(
    claims: &jwt_compact::Claims<ClerkClaims>,
    config: &AuthConfig,
    now: DateTime<Utc>,
) -> Result<Session, AuthError> {
    let time = TimeOptions::new(CLOCK_SKEW, move || now);
    claims.validate_expiration(&time).map_err(|e| match e {
        jwt_compact::ValidationError::Expired => AuthError::Expired,
        _ => AuthError::MissingClaim("exp"),
    })?;
    if claims.not_before.is_some() {
        claims
            .validate_maturity(&time)
            .map_err(|_| AuthError::NotYetValid)?;
    }
    if claims.issued_at.is_some_and(|iat| iat - CLOCK_SKEW > now) {
        return Err(AuthError::IssuedInFuture);
    }
    let custom = &claims.custom;
    match custom.iss.as_deref() {
        Some(iss) if iss == config.issuer => {}
        Some(_) => return Err(AuthError::WrongIssuer),
        None => return Err(AuthError::MissingClaim("iss")),
    }
    // Clerk's rule: checked only when both the claim and the list are present.
    if let Some(azp) = custom.azp.as_deref().filter(|a| !a.is_empty()) {
        if !config.authorized_parties.is_empty()
            && !config.authorized_parties.iter().any(|p| p == azp)
        {
            return Err(AuthError::UnauthorizedParty);
        }
    }
    let user_id = custom
        .sub
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or(AuthError::MissingClaim("sub"))?;
    Ok(Session {
        user_id,
        session_id: custom.sid.clone(),
    })
}

async fn resolve_key<F: JwksFetcher>(
    source: &KeySource,
    kid: Option<&str>,
    fetcher: &F,
    now: DateTime<Utc>,
) -> Result<VerifyingKey, AuthError> {
    let cache = match source {
        KeySource::Pem(key) => return Ok(key.clone()),
        KeySource::Jwks(cache) => cache,
    };
    let kid = kid.ok_or(AuthError::UnknownKey)?;
    if let Some(key) = cache.borrow().get(kid) {
        return Ok(key.clone());
    }
    if !cache.borrow().may_refetch(now) {
        return Err(if cache.borrow().is_empty() {
            AuthError::KeysUnavailable("backing off after a failed key fetch".into())
        } else {
            AuthError::UnknownKey
        });
    }
    cache.borrow_mut().record_attempt(now);
    // No RefCell borrow is held across this await: other requests on the
    // isolate may use the cache meanwhile.
    let fetched = fetcher
        .fetch_jwks()
        .await
        .and_then(|body| parse_jwks(&body).map_err(|e| e.to_string()));
    let mut cache = cache.borrow_mut();
    match fetched {
        Ok(keys) => cache.replace(keys),
        Err(cause) => {
            cache.record_failure();
            if cache.is_empty() {
                return Err(AuthError::KeysUnavailable(cause));
            }
        }
    }
    cache.get(kid).cloned().ok_or(AuthError::UnknownKey)
}
