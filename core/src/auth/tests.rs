use std::cell::{Cell, RefCell};

use chrono::{DateTime, Utc};
use futures_executor::block_on;
use jwt_compact::alg::{Hs256, Hs256Key};
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::{json, Value};

use super::testkeys::{self, OTHER_KEY, OTHER_PUB, PRIMARY_KEY, PRIMARY_PUB};
use super::*;

const ISSUER: &str = "https://clerk.example.test";
const NOW: i64 = 1_750_000_000;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(NOW, 0).unwrap()
}

fn config() -> AuthConfig {
    AuthConfig {
        issuer: ISSUER.into(),
        authorized_parties: vec!["https://app.example.test".into()],
    }
}

fn header(kid: &str) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": kid})
}

/// Claims in the shape of a Clerk v2 session token.
fn claims() -> Value {
    json!({
        "azp": "https://app.example.test",
        "exp": NOW + 60,
        "iat": NOW - 10,
        "nbf": NOW - 15,
        "iss": ISSUER,
        "jti": "8f4c0f3b1a2d",
        "sid": "sess_2abc",
        "sub": "user_2xyz",
        "v": 2,
        "fva": [0, -1],
        "sts": "active"
    })
}

fn with(mut value: Value, key: &str, v: Value) -> Value {
    value[key] = v;
    value
}

/// A fake JWKS endpoint that counts how often it is asked.
struct FakeJwks {
    body: RefCell<Result<String, String>>,
    calls: Cell<u32>,
}

impl FakeJwks {
    fn serving(entries: &[(&str, &str)]) -> Self {
        FakeJwks {
            body: RefCell::new(Ok(testkeys::jwks(entries))),
            calls: Cell::new(0),
        }
    }
}

impl JwksFetcher for FakeJwks {
    async fn fetch_jwks(&self) -> Result<String, String> {
        self.calls.set(self.calls.get() + 1);
        self.body.borrow().clone()
    }

    async fn verify_rs256(
        &self,
        key: &VerifyingKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, String> {
        Ok(testkeys::verify_rs256(key, message, signature))
    }
}

fn pem_source() -> KeySource {
    KeySource::Pem(VerifyingKey::from_pem(PRIMARY_PUB).unwrap())
}

fn jwks_source() -> KeySource {
    KeySource::Jwks(RefCell::new(JwksCache::default()))
}

fn verify_pem(token: &str) -> Result<Session, AuthError> {
    let fetcher = FakeJwks::serving(&[]);
    block_on(verify(token, &config(), &pem_source(), &fetcher, now()))
}

#[test]
fn valid_token_yields_user_and_session() {
    let token = testkeys::sign(&header("k1"), &claims(), PRIMARY_KEY);
    let session = verify_pem(&token).unwrap();
    assert_eq!(session.user_id, "user_2xyz");
    assert_eq!(session.session_id.as_deref(), Some("sess_2abc"));
}

#[test]
fn expired_token_is_rejected() {
    let token = testkeys::sign(
        &header("k1"),
        &with(claims(), "exp", json!(NOW - 6)),
        PRIMARY_KEY,
    );
    assert_eq!(verify_pem(&token), Err(AuthError::Expired));
}

#[test]
fn token_expired_within_skew_is_accepted() {
    let token = testkeys::sign(
        &header("k1"),
        &with(claims(), "exp", json!(NOW - 4)),
        PRIMARY_KEY,
    );
    assert!(verify_pem(&token).is_ok());
}

#[test]
fn token_without_exp_is_rejected() {
    let mut payload = claims();
    payload.as_object_mut().unwrap().remove("exp");
    let token = testkeys::sign(&header("k1"), &payload, PRIMARY_KEY);
    assert_eq!(verify_pem(&token), Err(AuthError::MissingClaim("exp")));
}

#[test]
fn not_yet_valid_token_is_rejected() {
    let token = testkeys::sign(
        &header("k1"),
        &with(claims(), "nbf", json!(NOW + 6)),
        PRIMARY_KEY,
    );
    assert_eq!(verify_pem(&token), Err(AuthError::NotYetValid));
}

#[test]
fn token_issued_in_the_future_is_rejected() {
    let token = testkeys::sign(
        &header("k1"),
        &with(claims(), "iat", json!(NOW + 30)),
        PRIMARY_KEY,
    );
    assert_eq!(verify_pem(&token), Err(AuthError::IssuedInFuture));
}

#[test]
fn wrong_issuer_is_rejected() {
    let payload = with(claims(), "iss", json!("https://evil.example.test"));
    let token = testkeys::sign(&header("k1"), &payload, PRIMARY_KEY);
    assert_eq!(verify_pem(&token), Err(AuthError::WrongIssuer));
}

#[test]
fn wrong_azp_is_rejected() {
    let payload = with(claims(), "azp", json!("https://phish.example.test"));
    let token = testkeys::sign(&header("k1"), &payload, PRIMARY_KEY);
    assert_eq!(verify_pem(&token), Err(AuthError::UnauthorizedParty));
}

#[test]
fn azp_is_not_checked_without_configured_parties() {
    let payload = with(claims(), "azp", json!("https://elsewhere.example.test"));
    let token = testkeys::sign(&header("k1"), &payload, PRIMARY_KEY);
    let open = AuthConfig {
        authorized_parties: vec![],
        ..config()
    };
    let fetcher = FakeJwks::serving(&[]);
    assert!(block_on(verify(&token, &open, &pem_source(), &fetcher, now())).is_ok());
}

#[test]
fn missing_subject_is_rejected() {
    let token = testkeys::sign(
        &header("k1"),
        &with(claims(), "sub", json!("")),
        PRIMARY_KEY,
    );
    assert_eq!(verify_pem(&token), Err(AuthError::MissingClaim("sub")));
}

#[test]
fn token_signed_by_another_key_is_rejected() {
    let token = testkeys::sign(&header("k1"), &claims(), OTHER_KEY);
    assert_eq!(verify_pem(&token), Err(AuthError::InvalidSignature));
}

#[test]
fn alg_none_is_rejected() {
    let token = testkeys::unsigned(&json!({"alg": "none", "typ": "JWT"}), &claims(), b"");
    assert_eq!(verify_pem(&token), Err(AuthError::UnsupportedAlgorithm));
}

#[test]
fn hs256_signed_with_the_public_key_is_rejected() {
    // The classic key-confusion attack: HMAC keyed with the RSA public key.
    let h = json!({"alg": "HS256", "typ": "JWT", "kid": "k1"});
    let unsigned = testkeys::unsigned(&h, &claims(), b"");
    let message = unsigned.rsplit_once('.').unwrap().0;
    let mac = Hs256.sign(&Hs256Key::new(PRIMARY_PUB.as_bytes()), message.as_bytes());
    let token = testkeys::unsigned(&h, &claims(), mac.as_bytes().as_ref());
    assert_eq!(verify_pem(&token), Err(AuthError::UnsupportedAlgorithm));
}

#[test]
fn tampered_payload_is_rejected() {
    let token = testkeys::sign(&header("k1"), &claims(), PRIMARY_KEY);
    let forged = testkeys::unsigned(
        &header("k1"),
        &with(claims(), "sub", json!("user_admin")),
        b"",
    );
    let forged_payload = forged.split('.').nth(1).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(verify_pem(&tampered), Err(AuthError::InvalidSignature));
}

#[test]
fn malformed_tokens_are_rejected() {
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "!!!.???.***",
        "eyJhbGciOiJSUzI1NiJ9...",
    ] {
        assert_eq!(
            verify_pem(token),
            Err(AuthError::Malformed),
            "token {token:?}"
        );
    }
}

#[test]
fn non_jwt_typ_is_rejected() {
    let h = json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1"});
    let token = testkeys::sign(&h, &claims(), PRIMARY_KEY);
    assert_eq!(verify_pem(&token), Err(AuthError::UnexpectedType));
}

#[test]
fn jwks_key_is_found_by_kid_and_cached() {
    let fetcher = FakeJwks::serving(&[("ins_1", PRIMARY_PUB), ("ins_2", OTHER_PUB)]);
    let source = jwks_source();
    for key in [PRIMARY_KEY, OTHER_KEY, PRIMARY_KEY] {
        let kid = if key == PRIMARY_KEY { "ins_1" } else { "ins_2" };
        let token = testkeys::sign(&header(kid), &claims(), key);
        block_on(verify(&token, &config(), &source, &fetcher, now())).unwrap();
    }
    assert_eq!(fetcher.calls.get(), 1);
}

#[test]
fn unknown_kid_is_rejected_and_refetched_at_most_once_a_minute() {
    let fetcher = FakeJwks::serving(&[("ins_1", PRIMARY_PUB)]);
    let source = jwks_source();
    let good = testkeys::sign(&header("ins_1"), &claims(), PRIMARY_KEY);
    let unknown = testkeys::sign(&header("ins_9"), &claims(), OTHER_KEY);
    block_on(verify(&good, &config(), &source, &fetcher, now())).unwrap();
    for _ in 0..3 {
        let result = block_on(verify(&unknown, &config(), &source, &fetcher, now()));
        assert_eq!(result, Err(AuthError::UnknownKey));
    }
    // The set was fetched this minute, so an unknown kid does not refetch it.
    assert_eq!(fetcher.calls.get(), 1);
    let later = now() + chrono::Duration::seconds(61);
    let result = block_on(verify(&unknown, &config(), &source, &fetcher, later));
    assert_eq!(result, Err(AuthError::UnknownKey));
    assert_eq!(fetcher.calls.get(), 2);
}

#[test]
fn rotated_key_is_picked_up_by_refetch() {
    let fetcher = FakeJwks::serving(&[("ins_1", PRIMARY_PUB)]);
    let source = jwks_source();
    let first = testkeys::sign(&header("ins_1"), &claims(), PRIMARY_KEY);
    block_on(verify(&first, &config(), &source, &fetcher, now())).unwrap();
    *fetcher.body.borrow_mut() = Ok(testkeys::jwks(&[("ins_2", OTHER_PUB)]));
    let rotated_claims = with(claims(), "exp", json!(NOW + 300));
    let rotated = testkeys::sign(&header("ins_2"), &rotated_claims, OTHER_KEY);
    let later = now() + chrono::Duration::seconds(120);
    let session = block_on(verify(&rotated, &config(), &source, &fetcher, later)).unwrap();
    assert_eq!(session.user_id, "user_2xyz");
}

#[test]
fn unreachable_jwks_with_empty_cache_is_keys_unavailable() {
    let fetcher = FakeJwks::serving(&[]);
    *fetcher.body.borrow_mut() = Err("connection refused".into());
    let token = testkeys::sign(&header("ins_1"), &claims(), PRIMARY_KEY);
    let result = block_on(verify(&token, &config(), &jwks_source(), &fetcher, now()));
    assert!(
        matches!(result, Err(AuthError::KeysUnavailable(_))),
        "{result:?}"
    );
}

#[test]
fn jwks_token_without_kid_is_unknown_key() {
    let fetcher = FakeJwks::serving(&[("ins_1", PRIMARY_PUB)]);
    let token = testkeys::sign(
        &json!({"alg": "RS256", "typ": "JWT"}),
        &claims(),
        PRIMARY_KEY,
    );
    let result = block_on(verify(&token, &config(), &jwks_source(), &fetcher, now()));
    assert_eq!(result, Err(AuthError::UnknownKey));
}

#[test]
fn verifier_caches_verified_tokens_but_still_honours_expiry() {
    let verifier = Verifier::new(config(), pem_source());
    let fetcher = FakeJwks::serving(&[]);
    let token = testkeys::sign(&header("k1"), &claims(), PRIMARY_KEY);
    let first = block_on(verifier.verify(&token, &fetcher, now())).unwrap();
    assert_eq!(verifier.cached_sessions(), 1);
    let second = block_on(verifier.verify(&token, &fetcher, now())).unwrap();
    assert_eq!(first, second);
    assert_eq!(verifier.cached_sessions(), 1);
    let later = now() + chrono::Duration::seconds(66);
    assert_eq!(
        block_on(verifier.verify(&token, &fetcher, later)),
        Err(AuthError::Expired)
    );
}

#[test]
fn verifier_does_not_cache_failures() {
    let verifier = Verifier::new(config(), pem_source());
    let fetcher = FakeJwks::serving(&[]);
    let forged = testkeys::sign(&header("k1"), &claims(), OTHER_KEY);
    for _ in 0..2 {
        assert_eq!(
            block_on(verifier.verify(&forged, &fetcher, now())),
            Err(AuthError::InvalidSignature)
        );
    }
    assert_eq!(verifier.cached_sessions(), 0);
}

#[test]
fn session_cache_is_bounded() {
    let mut cache = cache::SessionCache::default();
    let session = Session {
        user_id: "u".into(),
        session_id: None,
    };
    for i in 0..(cache::CAPACITY + 10) {
        let key = cache::token_key(&format!("token-{i}"));
        cache.insert(
            key,
            session.clone(),
            now() + chrono::Duration::seconds(60),
            None,
        );
    }
    assert_eq!(cache.len(), cache::CAPACITY);
    assert!(
        cache.get(&cache::token_key("token-0"), now()).is_none(),
        "oldest evicted"
    );
    assert!(cache
        .get(
            &cache::token_key(&format!("token-{}", cache::CAPACITY + 9)),
            now()
        )
        .is_some());
}

#[test]
fn failed_jwks_fetch_with_empty_cache_is_not_retried_at_once() {
    let fetcher = FakeJwks::serving(&[]);
    *fetcher.body.borrow_mut() = Err("connection refused".into());
    let token = testkeys::sign(&header("ins_1"), &claims(), PRIMARY_KEY);
    let source = jwks_source();
    let first = block_on(verify(&token, &config(), &source, &fetcher, now()));
    let second = block_on(verify(&token, &config(), &source, &fetcher, now()));
    assert!(matches!(first, Err(AuthError::KeysUnavailable(_))));
    assert!(matches!(second, Err(AuthError::KeysUnavailable(_))));
    assert_eq!(
        fetcher.calls.get(),
        1,
        "the second request must not refetch"
    );
}
