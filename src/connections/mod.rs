//! Connecting and keeping connections alive: the orchestration of storage,
//! encryption and provider calls. Decisions (validation, token parsing,
//! probe interpretation, envelope format) are in `carbon_core`; this module
//! sequences them around I/O.

pub mod callback;
pub mod complete;
pub mod keyed;
pub mod manage;
pub mod oauth;
pub mod offline;
pub mod refresh;
pub mod rotation;

use std::collections::BTreeMap;

use carbon_core::budget::Limit;
use carbon_core::crypto::{self, credentials_aad, CryptoError};
use carbon_core::datasources::{new_id, timestamp, Record, Status};
use carbon_core::error::ApiError;
use carbon_core::oauth::TokenSet;
use carbon_core::providers::{HttpRequest, Probe, Provider, Secrets, Settings};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use worker::{Delay, Env};

use crate::config::env_string;
use crate::crypto::{fresh_iv, key_ring, WebCrypto};
use crate::storage::{audit, datasources as rows};
use crate::{outbound, random};

/// What is encrypted in `datasources.credentials`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Secret {
    Fields { fields: BTreeMap<String, String> },
    Oauth { tokens: TokenSet },
}

impl Secret {
    pub fn as_secrets(&self) -> Secrets<'_> {
        match self {
            Secret::Fields { fields } => Secrets::Fields(fields),
            Secret::Oauth { tokens } => Secrets::Tokens(tokens),
        }
    }
}

/// Provider settings from the Worker's environment.
pub struct EnvSettings<'a>(pub &'a Env);

impl Settings for EnvSettings<'_> {
    fn get(&self, name: &str) -> Option<String> {
        env_string(self.0, name)
    }
}

/// Everything one request (or the scheduled job) needs to act on connections.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub db: crate::storage::Db,
    /// Validated lazily: a request that encrypts nothing still works (and
    /// says what else is missing) when the key is misconfigured.
    ring: std::rc::Rc<Result<crypto::KeyRing, String>>,
    pub request_id: &'a str,
    /// `user:<id>` or `system:<job>`, for the audit log.
    pub actor: String,
}

impl<'a> Ctx<'a> {
    pub fn new(
        env: &'a Env,
        request_id: &'a str,
        actor: String,
        statements: &crate::storage::StatementCount,
    ) -> Result<Self, ApiError> {
        Ok(Ctx {
            env,
            db: crate::storage::database(env, statements)
                .map_err(|e| ApiError::internal(format!("D1 binding: {e}")))?,
            ring: key_ring(env),
            request_id,
            actor,
        })
    }

    pub fn ring(&self) -> Result<&crypto::KeyRing, ApiError> {
        self.ring
            .as_ref()
            .as_ref()
            .map_err(|e| ApiError::internal(format!("configuration: {e}")))
    }

    pub fn settings(&self) -> EnvSettings<'a> {
        EnvSettings(self.env)
    }

    pub fn now(&self) -> DateTime<Utc> {
        crate::clock::now()
    }

    pub fn audit<'b>(
        &'b self,
        user_id: &'b str,
        datasource_id: &'b str,
        action: &'b str,
        detail: Option<&'b str>,
        at: &'b str,
    ) -> audit::Entry<'b> {
        audit::Entry {
            id: new_id("au", random::bytes()),
            user_id,
            datasource_id,
            action,
            actor: &self.actor,
            request_id: self.request_id,
            detail,
            at,
        }
    }

    /// Encrypts a secret for one row (bound to its id and owner).
    pub async fn seal(
        &self,
        datasource_id: &str,
        user_id: &str,
        secret: &Secret,
    ) -> Result<String, ApiError> {
        let plaintext =
            serde_json::to_vec(secret).map_err(|e| ApiError::internal(e.to_string()))?;
        crypto::seal(
            &WebCrypto,
            self.ring()?,
            fresh_iv(),
            &credentials_aad(datasource_id, user_id),
            &plaintext,
        )
        .await
        .map_err(|e| ApiError::internal(format!("encrypting credentials: {e}")))
    }

    /// Decrypts a row's secret and records the decryption in the audit log.
    ///
    /// Only a ciphertext that fails authentication (or is not an envelope
    /// at all) marks the row as broken: that is tampering or corruption. A
    /// key id nobody configured, or WebCrypto failing, is this server's
    /// configuration fault: an opaque 500 naming the setting in the log, the
    /// row untouched, and it works again once the configuration is fixed.
    ///
    /// A row opened with a retired key is re-sealed under the active one at
    /// once (compare-and-swap on the old ciphertext), so rotation finishes
    /// for every row that is used.
    pub async fn open(&self, rec: &Record, purpose: &str) -> Result<Secret, ApiError> {
        let Some(envelope) = rec.credentials.as_deref() else {
            return Err(ApiError::Conflict {
                detail: "this datasource has no stored credentials".into(),
            });
        };
        let now = timestamp(self.now());
        let aad = credentials_aad(&rec.id, &rec.user_id);
        let ring = self.ring()?;
        let opened = match crypto::open(&WebCrypto, ring, &aad, envelope).await {
            Ok(opened) => opened,
            Err(err @ (CryptoError::Rejected | CryptoError::Malformed(_))) => {
                return Err(self.tampered(rec, &err, &now).await)
            }
            Err(CryptoError::UnknownKey(kid)) => {
                return Err(ApiError::internal(format!(
                    "configuration: credentials of {} are sealed under key {kid}, which neither \
                     ENCRYPTION_KEY nor ENCRYPTION_KEYS holds",
                    rec.id
                )))
            }
            Err(CryptoError::Backend(e)) => {
                return Err(ApiError::internal(format!(
                    "WebCrypto failed decrypting: {e}"
                )))
            }
        };
        let entry = self.audit(&rec.user_id, &rec.id, "decrypt", Some(purpose), &now);
        audit::insert(&self.db, &entry)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .run()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        if opened.stale {
            // Best effort: a lost race means someone wrote newer credentials.
            self.reseal(rec, envelope, &opened.plaintext, &now).await?;
        }
        // serde's messages quote the offending value: never let a secret
        // reach a log through one. The category is enough to investigate.
        serde_json::from_slice(&opened.plaintext).map_err(|e| {
            ApiError::internal(format!(
                "stored credentials of {} are not a valid secret payload ({:?} error)",
                rec.id,
                e.classify()
            ))
        })
    }

    /// Re-encrypts `plaintext` (opened from `old`) under the active key.
    pub async fn reseal(
        &self,
        rec: &Record,
        old: &str,
        plaintext: &[u8],
        at: &str,
    ) -> Result<bool, ApiError> {
        let sealed = crypto::seal(
            &WebCrypto,
            self.ring()?,
            fresh_iv(),
            &credentials_aad(&rec.id, &rec.user_id),
            plaintext,
        )
        .await
        .map_err(|e| ApiError::internal(format!("encrypting credentials: {e}")))?;
        let detail = format!("re-encrypted under key {}", self.ring()?.active().id());
        let entry = self.audit(&rec.user_id, &rec.id, "reencrypt", Some(&detail), at);
        crate::storage::credentials::reseal(&self.db, &rec.id, old, &sealed, &entry)
            .await
            .map_err(db_error)
    }

    async fn tampered(&self, rec: &Record, err: &CryptoError, now: &str) -> ApiError {
        let reason = format!(
            "stored credentials could not be decrypted ({err}); reconnect this data source"
        );
        let entry = self.audit(&rec.user_id, &rec.id, "decrypt_failed", Some(&reason), now);
        let marked = rows::set_status(
            &self.db,
            &rec.id,
            rec.credentials_version,
            Status::Error.as_str(),
            Some(&reason),
            &entry,
            now,
        )
        .await;
        match marked {
            Err(e) => db_error(e),
            Ok(_) => ApiError::Conflict { detail: reason },
        }
    }
}

/// Calls the provider's cheapest authenticated endpoint: one call from the
/// provider app's shared budget, like every other (a plan's monthly
/// allowance counts probes too).
pub async fn probe(
    env: &worker::Env,
    provider: &dyn Provider,
    secrets: Secrets<'_>,
    settings: &dyn Settings,
) -> Probe {
    let limits = provider.app_limits(settings);
    if !limits.is_empty() {
        if let Err(unavailable) = take_one(env, provider.id(), &limits).await {
            return unavailable;
        }
    }
    send_probe(provider, &provider.probe(secrets, settings)).await
}

/// One call from a provider app's budget, counted in the window it will
/// reach the provider in: granted in a window's last moment (inside the
/// send margin), it is given back and taken again once the window turns,
/// or the provider would count it in its next window, past the limit.
async fn take_one(env: &Env, app: &str, limits: &[Limit]) -> Result<(), Probe> {
    let unavailable = |e: ApiError| Probe::Unavailable(format!("{e:?}"));
    let mut retaken = false;
    loop {
        let grant = crate::budget::take(env, app, 1, limits)
            .await
            .map_err(unavailable)?;
        if grant.calls == 0 {
            let wait = grant.retry_after.unwrap_or(60);
            return Err(Probe::Unavailable(format!(
                "the platform's shared call allowance for this provider is spent; try again in {wait} seconds"
            )));
        }
        let now_ms = crate::clock::now().timestamp_millis();
        match grant.lapsing_in(now_ms, limits) {
            Some(wait_ms) if !retaken => {
                crate::budget::give_back(env, app, 1, limits, grant.at)
                    .await
                    .map_err(unavailable)?;
                Delay::from(std::time::Duration::from_millis(wait_ms as u64 + 20)).await;
                retaken = true;
            }
            _ => return Ok(()),
        }
    }
}

/// [`probe`] with OAuth tokens.
pub async fn probe_oauth(
    env: &worker::Env,
    provider: &dyn Provider,
    tokens: carbon_core::oauth::TokenSet,
    settings: &dyn Settings,
) -> Probe {
    probe(
        env,
        provider,
        Secret::Oauth { tokens }.as_secrets(),
        settings,
    )
    .await
}

async fn send_probe(provider: &dyn Provider, req: &HttpRequest) -> Probe {
    match outbound::send(req).await {
        Ok(resp) => provider.interpret_probe(&resp),
        Err(e) => Probe::Unreachable(e.to_string()),
    }
}

/// The error a failed probe of *new* credentials answers with.
pub fn probe_error(provider_name: &str, probe: Probe) -> ApiError {
    match probe {
        Probe::Ok(_) => ApiError::internal("probe_error called on success"),
        Probe::Unauthorized(reason) | Probe::Rejected(reason) => ApiError::unprocessable(
            "credentials",
            format!("{provider_name} rejected the credentials: {reason}"),
        ),
        Probe::Unreachable(reason) => ApiError::BadGateway {
            detail: format!("{provider_name} could not be reached: {reason}"),
        },
        Probe::Unavailable(reason) => ApiError::ServiceUnavailable {
            detail: format!("{provider_name} is unavailable: {reason}"),
        },
    }
}

pub fn db_error(e: worker::Error) -> ApiError {
    ApiError::internal(format!("D1: {e}"))
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no datasource with id {id:?}"))
}
