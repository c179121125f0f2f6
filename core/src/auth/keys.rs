//! Verifying keys for Clerk session tokens: a PEM public key (`CLERK_JWT_KEY`,
//! no network) or a JWKS document (`CLERK_JWKS_URL`) cached per isolate.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use jwt_compact::alg::{RsaPublicKey, StrongKey};
use jwt_compact::jwk::JsonWebKey;
use rsa::pkcs8::DecodePublicKey;
use serde::Deserialize;

/// An RSA public key of at least 2048 bits (weaker keys are refused at load).
#[derive(Debug, Clone)]
pub struct VerifyingKey(pub(crate) StrongKey<RsaPublicKey>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl VerifyingKey {
    fn strong(key: RsaPublicKey) -> Result<Self, KeyError> {
        StrongKey::try_from(key)
            .map(VerifyingKey)
            .map_err(|_| KeyError("RSA key is shorter than 2048 bits".into()))
    }

    /// Parses an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form Clerk's
    /// dashboard gives for networkless verification. Secrets stored in one-line
    /// form often carry literal `\n` instead of newlines, so both are accepted.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let normalised = pem.trim().replace("\\n", "\n");
        let key = RsaPublicKey::from_public_key_pem(&normalised)
            .map_err(|e| KeyError(format!("CLERK_JWT_KEY is not an RSA public key PEM: {e}")))?;
        Self::strong(key)
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// Parses a JWKS document into `kid -> key`, keeping only RS256 signing keys
/// (a JWKS may also list encryption keys or other algorithms; those are skipped,
/// not errors, so a provider adding one cannot lock every user out).
pub fn parse_jwks(body: &str) -> Result<HashMap<String, VerifyingKey>, KeyError> {
    let doc: JwksDocument =
        serde_json::from_str(body).map_err(|e| KeyError(format!("JWKS is not valid JSON: {e}")))?;
    let mut keys = HashMap::new();
    for mut entry in doc.keys {
        let member = |name: &str| entry.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(kid), key_use, alg) = (member("kid"), member("use"), member("alg")) else {
            continue;
        };
        if key_use.is_some_and(|u| u != "sig") || alg.is_some_and(|a| a != "RS256") {
            continue;
        }
        // jwt-compact's JWK type models only the members it needs.
        entry.retain(|k, _| matches!(k.as_str(), "kty" | "n" | "e"));
        let key = serde_json::from_value::<JsonWebKey<'_>>(entry.into())
            .ok()
            .and_then(|jwk| RsaPublicKey::try_from(&jwk).ok())
            .and_then(|key| VerifyingKey::strong(key).ok());
        if let Some(key) = key {
            keys.insert(kid, key);
        }
    }
    if keys.is_empty() {
        return Err(KeyError("JWKS holds no usable RS256 signing key".into()));
    }
    Ok(keys)
}

/// How often an unknown `kid` may trigger a refetch of the key set. Bounds the
/// load a flood of forged tokens can put on the issuer's JWKS endpoint.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::seconds(60);

/// Per-isolate cache of a JWKS. Keys stay until a refetch replaces them;
/// a refetch happens only when a token names a `kid` the cache lacks.
#[derive(Debug, Default)]
pub struct JwksCache {
    keys: HashMap<String, VerifyingKey>,
    last_attempt: Option<DateTime<Utc>>,
    /// Failed fetches in a row, for the backoff while the cache is empty.
    failures: u32,
    /// A fetch is under way: callers join it (the adapter shares one fetch
    /// per isolate) instead of being refused by the backoff.
    in_flight: bool,
}

/// The first wait after a failed fetch with nothing cached; it doubles with
/// each further failure up to [`JWKS_REFETCH_INTERVAL`].
pub const JWKS_EMPTY_BACKOFF: Duration = Duration::seconds(1);

impl JwksCache {
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A populated cache refetches at most once per [`JWKS_REFETCH_INTERVAL`].
    /// An empty one retries sooner, but still backs off after each failure
    /// (1 s, 2 s, 4 s... up to the same interval): an issuer outage must not
    /// turn every request into a fetch.
    pub fn may_refetch(&self, now: DateTime<Utc>) -> bool {
        if self.in_flight {
            return true;
        }
        let Some(at) = self.last_attempt else {
            return true;
        };
        let wait = if self.keys.is_empty() {
            if self.failures == 0 {
                return true;
            }
            let factor = 1i32 << self.failures.saturating_sub(1).min(6);
            (JWKS_EMPTY_BACKOFF * factor).min(JWKS_REFETCH_INTERVAL)
        } else {
            JWKS_REFETCH_INTERVAL
        };
        now - at >= wait
    }

    pub fn record_attempt(&mut self, now: DateTime<Utc>) {
        if !self.in_flight {
            self.last_attempt = Some(now);
            self.in_flight = true;
        }
    }

    /// A fetch failed. Every caller that joined it reports the one result;
    /// only the first counts.
    pub fn record_failure(&mut self) {
        if std::mem::take(&mut self.in_flight) {
            self.failures = self.failures.saturating_add(1);
        }
    }

    pub fn replace(&mut self, keys: HashMap<String, VerifyingKey>) {
        self.keys = keys;
        self.failures = 0;
        self.in_flight = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testkeys;

    #[test]
    fn pem_with_escaped_newlines_is_accepted() {
        let one_line = testkeys::PRIMARY_PUB.replace('\n', "\\n");
        assert!(VerifyingKey::from_pem(&one_line).is_ok());
    }

    #[test]
    fn weak_rsa_key_is_refused() {
        let err = VerifyingKey::from_pem(testkeys::WEAK_PUB).unwrap_err();
        assert!(err.0.contains("2048"), "{err}");
    }

    #[test]
    fn garbage_pem_is_refused() {
        assert!(VerifyingKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"
        )
        .is_err());
    }

    #[test]
    fn jwks_skips_encryption_and_foreign_keys() {
        let jwks = testkeys::jwks(&[("sig-1", testkeys::PRIMARY_PUB)]);
        let mut doc: serde_json::Value = serde_json::from_str(&jwks).unwrap();
        let mut enc = doc["keys"][0].clone();
        enc["kid"] = "enc-1".into();
        enc["use"] = "enc".into();
        doc["keys"].as_array_mut().unwrap().push(enc);
        doc["keys"].as_array_mut().unwrap().push(
            serde_json::json!({"kid": "ec-1", "kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}),
        );
        let keys = parse_jwks(&doc.to_string()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["sig-1"]);
    }

    #[test]
    fn jwks_without_usable_keys_is_an_error() {
        assert!(parse_jwks(r#"{"keys":[]}"#).is_err());
        assert!(parse_jwks("not json").is_err());
    }

    #[test]
    fn populated_cache_refetches_at_most_once_a_minute() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut cache = JwksCache::default();
        assert!(cache.may_refetch(now));
        cache.record_attempt(now);
        cache.replace(parse_jwks(&testkeys::jwks(&[("k", testkeys::PRIMARY_PUB)])).unwrap());
        assert!(!cache.may_refetch(now + Duration::seconds(59)));
        assert!(cache.may_refetch(now + Duration::seconds(60)));
    }

    #[test]
    fn empty_cache_backs_off_after_failures() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut cache = JwksCache::default();
        cache.record_attempt(now);
        assert!(cache.may_refetch(now), "callers join a fetch under way");
        cache.record_failure();
        cache.record_failure(); // a second caller of the same fetch
        assert!(!cache.may_refetch(now));
        assert!(cache.may_refetch(now + Duration::seconds(1)));
        for _ in 0..3 {
            cache.record_attempt(now);
            cache.record_failure();
        }
        assert!(!cache.may_refetch(now + Duration::seconds(7)));
        assert!(cache.may_refetch(now + Duration::seconds(8)));
        for _ in 0..20 {
            cache.record_attempt(now);
            cache.record_failure();
        }
        assert!(cache.may_refetch(now + JWKS_REFETCH_INTERVAL));
    }
}
