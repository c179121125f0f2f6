//! OAuth 2.0 authorization-code maths: state, PKCE (RFC 7636), token
//! responses (RFC 6749 section 5) and when to refresh.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::providers::sanitize;

/// How long an authorization request may take before its state expires.
pub const STATE_TTL: Duration = Duration::minutes(10);

/// Refresh an access token this long before it expires (unless a provider
/// asks for more), so no provider call starts with a token about to die.
pub const REFRESH_MARGIN: Duration = Duration::minutes(15);

/// 256 random bits as URL-safe text: the `state` parameter and PKCE verifier.
pub fn random_token(bytes: [u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// States are stored hashed: a database leak does not reveal live states.
pub fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// PKCE S256 challenge for a verifier (RFC 7636 section 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The longest token lifetime believed: a provider claiming more is treated
/// as saying a year, and the token is refreshed (or fails) well before.
pub const MAX_EXPIRES_IN: Duration = Duration::days(365);

/// Tokens as the platform keeps them (encrypted) after a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Absolute expiry; `None` when the provider did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// Why a token request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is no longer valid. For a
    /// refresh this means the user must reconnect.
    InvalidGrant(String),
    /// Any other OAuth error the provider returned (`invalid_client`...).
    Rejected {
        error: String,
        description: Option<String>,
    },
    /// The response was not a token response at all.
    Malformed(String),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::InvalidGrant(d) => write!(f, "invalid_grant: {d}"),
            TokenError::Rejected { error, description } => {
                write!(f, "{error}")?;
                if let Some(d) = description {
                    write!(f, ": {d}")?;
                }
                Ok(())
            }
            TokenError::Malformed(d) => write!(f, "malformed token response: {d}"),
        }
    }
}

#[derive(Deserialize)]
struct RawToken {
    access_token: Option<String>,
    token_type: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    error_description: Option<String>,
}

/// Parses a token endpoint response. `previous_refresh` is kept when the
/// provider does not rotate (a refresh response may omit `refresh_token`).
pub fn parse_token_response(
    status: u16,
    body: &[u8],
    now: DateTime<Utc>,
    previous_refresh: Option<&str>,
) -> Result<TokenSet, TokenError> {
    if !(200..300).contains(&status) {
        // The provider's words reach users and logs: cleaned and bounded.
        return Err(match serde_json::from_slice::<RawError>(body) {
            Ok(e) if e.error == "invalid_grant" => TokenError::InvalidGrant(
                e.error_description
                    .map(|d| sanitize(&d))
                    .unwrap_or_else(|| "grant rejected".into()),
            ),
            Ok(e) => TokenError::Rejected {
                error: sanitize(&e.error),
                description: e.error_description.map(|d| sanitize(&d)),
            },
            Err(_) => TokenError::Malformed(format!("HTTP {status} without an OAuth error body")),
        });
    }
    let raw: RawToken =
        serde_json::from_slice(body).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let access_token = raw
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Malformed("no access_token".into()))?;
    // RFC 6749 section 5.1: token_type is case-insensitive; only bearer is usable.
    match raw.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        Some(other) => {
            return Err(TokenError::Malformed(format!(
                "unsupported token_type {other:?}"
            )))
        }
        None => return Err(TokenError::Malformed("no token_type".into())),
    }
    // Some servers send expires_in as a string. A huge value would overflow
    // the date arithmetic (a panic, which aborts the isolate): clamp it.
    let expires_in = raw
        .expires_in
        .and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .map(|s| s.min(MAX_EXPIRES_IN.num_seconds()));
    Ok(TokenSet {
        access_token,
        refresh_token: raw
            .refresh_token
            .filter(|t| !t.is_empty())
            .or_else(|| previous_refresh.map(str::to_owned)),
        expires_at: expires_in
            .filter(|s| *s > 0)
            .map(|s| now + Duration::seconds(s)),
        scope: raw.scope,
    })
}

/// Whether a token should be refreshed before use.
pub fn needs_refresh(tokens: &TokenSet, now: DateTime<Utc>, margin: Duration) -> bool {
    tokens.refresh_token.is_some() && tokens.expires_at.is_some_and(|at| at - margin <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    #[test]
    fn absurd_expires_in_is_clamped_instead_of_overflowing() {
        let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":10000000000000}"#;
        let t = parse_token_response(200, body, now(), None).unwrap();
        assert_eq!(t.expires_at, Some(now() + MAX_EXPIRES_IN));
        let body = br#"{"access_token":"at","token_type":"Bearer","expires_in":1e300}"#;
        let t = parse_token_response(200, body, now(), None).unwrap();
        assert_eq!(t.expires_at, Some(now() + MAX_EXPIRES_IN));
    }

    #[test]
    fn provider_error_text_is_cleaned_before_it_is_shown() {
        let body = b"{\"error\":\"invalid_client\",\"error_description\":\"<script>x</script>\\u0007bad\"}";
        let err = parse_token_response(401, body, now(), None).unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains('<') && !shown.contains('\u{7}'), "{shown}");
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_43_url_safe_characters() {
        let t = random_token([0xff; 32]);
        assert_eq!(t.len(), 43);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn state_hash_is_stable_and_hides_the_state() {
        assert_eq!(state_hash("abc"), state_hash("abc"));
        assert_ne!(state_hash("abc"), state_hash("abd"));
        assert!(!state_hash("abc").contains("abc"));
    }

    #[test]
    fn xero_token_response_is_parsed() {
        let body = br#"{"id_token":"x","access_token":"at","expires_in":1800,"token_type":"Bearer","refresh_token":"rt","scope":"openid offline_access"}"#;
        let t = parse_token_response(200, body, now(), None).unwrap();
        assert_eq!(t.access_token, "at");
        assert_eq!(t.refresh_token.as_deref(), Some("rt"));
        assert_eq!(t.expires_at, Some(now() + Duration::seconds(1800)));
    }

    #[test]
    fn enphase_lowercase_bearer_and_string_expiry_are_accepted() {
        let body = br#"{"access_token":"at","token_type":"bearer","refresh_token":"rt","expires_in":"86393","scope":"read write","enl_uid":"1"}"#;
        let t = parse_token_response(200, body, now(), None).unwrap();
        assert_eq!(t.expires_at, Some(now() + Duration::seconds(86393)));
    }

    #[test]
    fn missing_refresh_token_keeps_the_previous_one() {
        let body = br#"{"access_token":"at2","token_type":"Bearer"}"#;
        let t = parse_token_response(200, body, now(), Some("rt1")).unwrap();
        assert_eq!(t.refresh_token.as_deref(), Some("rt1"));
        assert_eq!(t.expires_at, None);
    }

    #[test]
    fn invalid_grant_is_distinguished() {
        let err =
            parse_token_response(400, br#"{"error":"invalid_grant"}"#, now(), None).unwrap_err();
        assert!(matches!(err, TokenError::InvalidGrant(_)));
        let err = parse_token_response(
            401,
            br#"{"error":"invalid_client","error_description":"bad secret"}"#,
            now(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "invalid_client: bad secret");
        let err = parse_token_response(502, b"<html>bad gateway</html>", now(), None).unwrap_err();
        assert!(matches!(err, TokenError::Malformed(_)));
    }

    #[test]
    fn non_bearer_or_empty_tokens_are_refused() {
        assert!(parse_token_response(
            200,
            br#"{"access_token":"a","token_type":"mac"}"#,
            now(),
            None
        )
        .is_err());
        assert!(parse_token_response(
            200,
            br#"{"access_token":"","token_type":"bearer"}"#,
            now(),
            None
        )
        .is_err());
    }

    #[test]
    fn refresh_is_due_within_the_margin() {
        let mut t = TokenSet {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            expires_at: Some(now() + Duration::minutes(16)),
            scope: None,
        };
        assert!(!needs_refresh(&t, now(), REFRESH_MARGIN));
        t.expires_at = Some(now() + Duration::minutes(14));
        assert!(needs_refresh(&t, now(), REFRESH_MARGIN));
        t.refresh_token = None;
        assert!(
            !needs_refresh(&t, now(), REFRESH_MARGIN),
            "nothing to refresh with"
        );
    }
}
