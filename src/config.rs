//! Configuration from the Worker's environment (`wrangler.toml` vars and
//! secrets), read and validated at the boundary. A missing or malformed
//! required setting is an internal error naming the setting, never a silent
//! fallback.
//!
//! An isolate's environment does not change while it lives (new vars or
//! secrets mean a new deployment, so new isolates), so what is read from it,
//! and what is parsed from that, is kept for the isolate: a request reads a
//! setting from memory instead of crossing into JS for every binding. The
//! cache is tied to the `env` object it was read from and starts over if a
//! different one ever arrives.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use carbon_core::auth::AuthConfig;
use carbon_core::cors::CorsPolicy;
use worker::wasm_bindgen::JsValue;
use worker::Env;

/// What this isolate has read from its `env`, and parsed from that.
#[derive(Default)]
struct Isolate {
    env: Option<JsValue>,
    vars: HashMap<String, Option<String>>,
    parsed: HashMap<&'static str, Rc<dyn Any>>,
}

thread_local! {
    static ISOLATE: RefCell<Isolate> = RefCell::new(Isolate::default());
}

/// Runs `f` on this isolate's cache of `env`, emptied first if `env` is not
/// the object it was filled from.
fn with_isolate<T>(env: &Env, f: impl FnOnce(&mut Isolate) -> T) -> T {
    ISOLATE.with_borrow_mut(|isolate| {
        let same = isolate
            .env
            .as_ref()
            .is_some_and(|seen| js_sys::Object::is(seen, env));
        if !same {
            *isolate = Isolate {
                env: Some(JsValue::from(env.clone())),
                ..Isolate::default()
            };
        }
        f(isolate)
    })
}

/// Reads a string binding whether it was declared as a var or a secret.
pub fn env_string(env: &Env, name: &str) -> Option<String> {
    if let Some(known) = with_isolate(env, |i| i.vars.get(name).cloned()) {
        return known;
    }
    let value = read_string(env, name);
    with_isolate(env, |i| i.vars.insert(name.to_owned(), value.clone()));
    value
}

/// `make(env)`, worked out once per isolate and kept under `key`.
pub fn per_isolate<T: 'static>(
    env: &Env,
    key: &'static str,
    make: impl FnOnce(&Env) -> T,
) -> Rc<T> {
    let known = with_isolate(env, |i| i.parsed.get(key).cloned());
    if let Some(value) = known.and_then(|v| v.downcast::<T>().ok()) {
        return value;
    }
    // Made outside the borrow: `make` reads settings through the same cache.
    let value = Rc::new(make(env));
    with_isolate(env, |i| i.parsed.insert(key, value.clone()));
    value
}

fn read_string(env: &Env, name: &str) -> Option<String> {
    let value = js_sys::Reflect::get(env, &JsValue::from_str(name)).ok()?;
    value
        .as_string()
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

/// [`read_auth_config`], once per isolate.
pub fn auth_config(env: &Env) -> Rc<Result<(AuthConfig, KeyConfig), String>> {
    per_isolate(env, "auth", read_auth_config)
}

fn read_auth_config(env: &Env) -> Result<(AuthConfig, KeyConfig), String> {
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

/// `ALLOWED_ORIGINS`, parsed once per isolate.
pub fn cors_policy(env: &Env) -> Rc<Result<CorsPolicy, String>> {
    per_isolate(env, "cors", |env| {
        CorsPolicy::parse(&env_string(env, "ALLOWED_ORIGINS").unwrap_or_default())
    })
}

/// Refuses to serve a production deployment that lacks what production
/// needs (`carbon_core::deployment`). Checked once per isolate.
pub fn deployment(env: &Env) -> Result<(), String> {
    per_isolate(env, "deployment", |env| {
        carbon_core::deployment::check(|name| env_string(env, name))
    })
    .as_ref()
    .clone()
}
