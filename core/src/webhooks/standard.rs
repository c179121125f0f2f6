//! Standard Webhooks signatures (the scheme's spec, ../shared/PROVIDERS.md):
//! `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`
//! (space-separated `v1,<base64>` entries) over `"{id}.{timestamp}.{body}"`
//! with HMAC-SHA256; the secret is `whsec_` then base64 of the key bytes.
//! Verified over the exact raw bytes, in constant time, before anything is
//! parsed; timestamps more than five minutes off are refused.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;
/// Signature entries read from a header (senders list one per secret in
/// rotation: a handful at most).
pub const MAX_ENTRIES: usize = 8;
const PREFIX: &str = "whsec_";

/// A signing secret, decoded once (never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// From its `whsec_...` text form.
    pub fn parse(text: &str) -> Option<Secret> {
        let key = B64.decode(text.strip_prefix(PREFIX)?).ok()?;
        (key.len() >= 16 && key.len() <= 64).then_some(Secret(key))
    }

    /// A new secret from 32 random bytes, with its text form (shown once).
    pub fn from_bytes(bytes: [u8; 32]) -> (Secret, String) {
        (
            Secret(bytes.to_vec()),
            format!("{PREFIX}{}", B64.encode(bytes)),
        )
    }

    fn mac(&self, id: &str, ts: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for a delivery (tests, the bench).
    pub fn sign(&self, id: &str, ts: i64, body: &[u8]) -> String {
        let tag = self.mac(id, &ts.to_string(), body).finalize().into_bytes();
        format!("v1,{}", B64.encode(tag))
    }
}

/// The three headers, as received.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a delivery is refused (every one answers 401, saying which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    MissingHeaders,
    MalformedTimestamp,
    StaleTimestamp,
    FutureTimestamp,
    BadSignature,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::MissingHeaders => "missing webhook-id, webhook-timestamp or webhook-signature",
            Refusal::MalformedTimestamp => "webhook-timestamp is not unix seconds",
            Refusal::StaleTimestamp => "webhook-timestamp is more than 5 minutes old",
            Refusal::FutureTimestamp => "webhook-timestamp is more than 5 minutes ahead",
            Refusal::BadSignature => "no signature matches",
        }
    }
}

/// Verifies a delivery against any of `secrets` (more than one during a
/// rotation's grace period). Returns the delivery id on success.
pub fn verify<'a>(
    h: &Headers<'a>,
    body: &[u8],
    secrets: &[&Secret],
    now_secs: i64,
) -> Result<&'a str, Refusal> {
    let (Some(id), Some(ts), Some(sig)) = (h.id, h.timestamp, h.signature) else {
        return Err(Refusal::MissingHeaders);
    };
    if id.is_empty() || id.len() > 256 || sig.len() > 4096 {
        return Err(Refusal::MissingHeaders);
    }
    if ts.is_empty() || ts.len() > 12 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::MalformedTimestamp);
    }
    let at: i64 = ts.parse().map_err(|_| Refusal::MalformedTimestamp)?;
    if at < now_secs - TOLERANCE_SECS {
        return Err(Refusal::StaleTimestamp);
    }
    if at > now_secs + TOLERANCE_SECS {
        return Err(Refusal::FutureTimestamp);
    }
    // At most MAX_ENTRIES v1 tags of a SHA-256's length: a header of many
    // entries buys no extra work.
    let tags: Vec<Vec<u8>> = sig
        .split(' ')
        .take(MAX_ENTRIES)
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| B64.decode(b64).ok())
        .filter(|tag| tag.len() == 32)
        .collect();
    // The body is hashed once per secret; each tag is compared in
    // constant time against that one result.
    let ok = secrets.iter().any(|s| {
        let mac = s.mac(id, ts, body);
        tags.iter().any(|tag| mac.clone().verify_slice(tag).is_ok())
    });
    if ok {
        Ok(id)
    } else {
        Err(Refusal::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The scheme's official test vector (PROVIDERS.md).
    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn h<'a>(id: &'a str, ts: &'a str, sig: &'a str) -> Headers<'a> {
        Headers {
            id: Some(id),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn the_official_vector_verifies_and_signs_to_the_same_tag() {
        let s = Secret::parse(KEY).unwrap();
        assert_eq!(s.sign(ID, TS, BODY), SIG);
        let ts = TS.to_string();
        assert_eq!(verify(&h(ID, &ts, SIG), BODY, &[&s], TS), Ok(ID));
        // Several entries, one good: it verifies.
        let many = format!("v1,AAAA v1a,xyz {SIG}");
        assert_eq!(verify(&h(ID, &ts, &many), BODY, &[&s], TS + 299), Ok(ID));
    }

    #[test]
    fn every_tamper_is_refused() {
        let s = Secret::parse(KEY).unwrap();
        let other = Secret::parse("whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0").unwrap();
        let ts = TS.to_string();
        let mut flipped = BODY.to_vec();
        flipped[3] ^= 1;
        let bad_sig = SIG.replace("g0h", "g1h");
        let cases: Vec<(Headers, &[u8], &Secret, i64, Refusal)> = vec![
            (h(ID, &ts, SIG), &flipped, &s, TS, Refusal::BadSignature),
            (h(ID, &ts, &bad_sig), BODY, &s, TS, Refusal::BadSignature),
            (
                h("msg_other", &ts, SIG),
                BODY,
                &s,
                TS,
                Refusal::BadSignature,
            ),
            (h(ID, &ts, SIG), BODY, &other, TS, Refusal::BadSignature),
            (h(ID, &ts, SIG), BODY, &s, TS + 301, Refusal::StaleTimestamp),
            (
                h(ID, &ts, SIG),
                BODY,
                &s,
                TS - 301,
                Refusal::FutureTimestamp,
            ),
            (
                h(ID, "16142653300000", SIG),
                BODY,
                &s,
                TS,
                Refusal::MalformedTimestamp,
            ),
            (h(ID, "-5", SIG), BODY, &s, TS, Refusal::MalformedTimestamp),
            (
                h(ID, &ts, "v1,not base64!"),
                BODY,
                &s,
                TS,
                Refusal::BadSignature,
            ),
            (
                h(ID, &ts, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                BODY,
                &s,
                TS,
                Refusal::BadSignature,
            ),
            (
                Headers {
                    signature: None,
                    ..h(ID, &ts, SIG)
                },
                BODY,
                &s,
                TS,
                Refusal::MissingHeaders,
            ),
        ];
        for (i, (headers, body, secret, now, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                verify(&headers, body, &[secret], now),
                Err(want),
                "case {i}"
            );
        }
    }

    #[test]
    fn a_header_of_many_entries_is_read_no_further_than_eight() {
        let s = Secret::parse(KEY).unwrap();
        let ts = TS.to_string();
        let padded = format!("{}{SIG}", "v1,AAAA ".repeat(MAX_ENTRIES));
        assert_eq!(
            verify(&h(ID, &ts, &padded), BODY, &[&s], TS),
            Err(Refusal::BadSignature)
        );
        let within = format!("{}{SIG}", "v1,AAAA ".repeat(MAX_ENTRIES - 1));
        assert_eq!(verify(&h(ID, &ts, &within), BODY, &[&s], TS), Ok(ID));
    }

    #[test]
    fn during_a_rotation_either_secret_verifies() {
        let old = Secret::parse(KEY).unwrap();
        let (new, text) = Secret::from_bytes([7; 32]);
        assert!(text.starts_with("whsec_") && Secret::parse(&text) == Some(new.clone()));
        let ts = TS.to_string();
        let by_new = new.sign(ID, TS, BODY);
        assert!(verify(&h(ID, &ts, SIG), BODY, &[&new, &old], TS).is_ok());
        assert!(verify(&h(ID, &ts, &by_new), BODY, &[&new, &old], TS).is_ok());
        assert!(verify(&h(ID, &ts, SIG), BODY, &[&new], TS).is_err());
        assert_eq!(format!("{new:?}"), "Secret(..)");
        assert!(Secret::parse("whsec_c2hvcnQ=").is_none(), "too short a key");
        assert!(Secret::parse("sk_live_nope").is_none());
    }
}
