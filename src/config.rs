//! Configuration from the Worker's environment (`wrangler.toml` vars and
//! secrets), read and validated once per request at the boundary. A missing or
//! malformed required setting is an internal error naming the setting, never a
//! silent fallback.

use carbon_core::auth::AuthConfig;
use carbon_core::cors::CorsPolicy;
use worker::Env;

/// Reads a string binding whether it was declared as a var or a secret.
pub fn env_string(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Where the Clerk verifying keys come from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeyConfig {
    /// `CLERK_JWT_KEY`: a PEM public key (preferred: no network).
    Pem(String),
    /// `CLERK_JWKS_URL`.
    JwksUrl(String),
}

pub fn auth_config(env: &Env) -> Result<(AuthConfig, KeyConfig), String> {
    let issuer = env_string(env, "CLERK_ISSUER").ok_or("CLERK_ISSUER is not set")?;
    let authorized_parties = env_string(env, "CLERK_AUTHORIZED_PARTIES")
        .map(|v| {
            v.split(',')
                .map(|p| p.trim().trim_end_matches('/').to_owned())
                .filter(|p| !p.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let keys = match (
        env_string(env, "CLERK_JWT_KEY"),
        env_string(env, "CLERK_JWKS_URL"),
    ) {
        (Some(pem), _) => KeyConfig::Pem(pem),
        (None, Some(url)) => KeyConfig::JwksUrl(url),
        (None, None) => return Err("neither CLERK_JWT_KEY nor CLERK_JWKS_URL is set".into()),
    };
    Ok((
        AuthConfig {
            issuer,
            authorized_parties,
        },
        keys,
    ))
}

pub fn cors_policy(env: &Env) -> Result<CorsPolicy, String> {
    CorsPolicy::parse(&env_string(env, "ALLOWED_ORIGINS").unwrap_or_default())
}

thread_local! {
    /// The production check's verdict: the environment of an isolate does
    /// not change, so it is worked out once.
    static DEPLOYMENT: std::cell::OnceCell<Result<(), String>> = const { std::cell::OnceCell::new() };
}

/// Refuses to serve a production deployment that lacks what production
/// needs (`carbon_core::deployment`). Checked once per isolate.
pub fn deployment(env: &Env) -> Result<(), String> {
    DEPLOYMENT.with(|cell| {
        cell.get_or_init(|| carbon_core::deployment::check(|name| env_string(env, name)))
            .clone()
    })
}
