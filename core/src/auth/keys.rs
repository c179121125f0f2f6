//! Verifying keys for Clerk session tokens: a PEM public key (`CLERK_JWT_KEY`,
//! no network) or a JWKS document (`CLERK_JWKS_URL`) cached per isolate.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// An RSA public key of at least 2048 bits (weaker keys are refused at load),
/// as its modulus and exponent (big-endian, no leading zeros). The signature
/// itself is checked by the platform (WebCrypto in the Worker), which takes
/// the key in this form as a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn unsigned(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

impl VerifyingKey {
    /// A key from its modulus and exponent; refuses one under 2048 bits or
    /// with an exponent that is not an odd number of at least 3.
    pub fn from_parts(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let (n, e) = (unsigned(n), unsigned(e));
        let bits = n.first().map_or(0, |top| {
            (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
        });
        if bits < 2048 {
            return Err(KeyError("RSA key is shorter than 2048 bits".into()));
        }
        let odd = e.last().is_some_and(|low| low & 1 == 1);
        if e.is_empty() || e.len() > 8 || !odd || e == [1] {
            return Err(KeyError("RSA public exponent is not valid".into()));
        }
        Ok(VerifyingKey {
            n: n.to_vec(),
            e: e.to_vec(),
        })
    }

    /// Parses an SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the form Clerk's
    /// dashboard gives for networkless verification. Secrets stored in one-line
    /// form often carry literal `\n` instead of newlines, so both are accepted.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let bad =
            |why: &str| KeyError(format!("CLERK_JWT_KEY is not an RSA public key PEM: {why}"));
        let normalised = pem.trim().replace("\\n", "\n");
        let body = normalised
            .strip_prefix("-----BEGIN PUBLIC KEY-----")
            .and_then(|rest| rest.trim_end().strip_suffix("-----END PUBLIC KEY-----"))
            .ok_or_else(|| {
                bad("expected -----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----")
            })?;
        let b64: String = body.split_whitespace().collect();
        let der = STANDARD
            .decode(b64)
            .map_err(|_| bad("its body is not base64"))?;
        let (n, e) =
            super::der::rsa_spki(&der).ok_or_else(|| bad("not an RSA SubjectPublicKeyInfo"))?;
        Self::from_parts(n, e)
    }

    /// The key as a JWK's members (`n`, `e`: base64url), for WebCrypto's importKey.
    pub fn jwk_members(&self) -> (String, String) {
        (
            URL_SAFE_NO_PAD.encode(&self.n),
            URL_SAFE_NO_PAD.encode(&self.e),
        )
    }

    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    pub fn exponent(&self) -> &[u8] {
        &self.e
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
    kty: Option<String>,
    #[serde(rename = "use")]
    key_use: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl Jwk {
    fn rsa_key(&self) -> Option<VerifyingKey> {
        if self.kty.as_deref() != Some("RSA") {
            return None;
        }
        let n = URL_SAFE_NO_PAD.decode(self.n.as_deref()?).ok()?;
        let e = URL_SAFE_NO_PAD.decode(self.e.as_deref()?).ok()?;
        VerifyingKey::from_parts(&n, &e).ok()
    }
}

/// Parses a JWKS document into `kid -> key`, keeping only RS256 signing keys
/// (a JWKS may also list encryption keys or other algorithms; those are skipped,
/// not errors, so a provider adding one cannot lock every user out).
pub fn parse_jwks(body: &str) -> Result<HashMap<String, VerifyingKey>, KeyError> {
    let doc: JwksDocument =
        serde_json::from_str(body).map_err(|e| KeyError(format!("JWKS is not valid JSON: {e}")))?;
    let mut keys = HashMap::new();
    for entry in doc.keys {
        let Some(kid) = entry.kid.clone() else {
            continue;
        };
        if entry.key_use.as_deref().is_some_and(|u| u != "sig")
            || entry.alg.as_deref().is_some_and(|a| a != "RS256")
        {
            continue;
        }
        if let Some(key) = entry.rsa_key() {
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
