//! Provider calls described as data (sans-I/O): providers build an
//! [`HttpRequest`] and interpret an [`HttpResponse`]; the Worker performs the
//! call with `fetch`, native tests feed recorded responses. Core never does I/O.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    pub fn get(url: String) -> Self {
        HttpRequest {
            method: "GET",
            url,
            headers: vec![("Accept", "application/json".into())],
            body: None,
        }
    }

    pub fn post_form(url: String, form: &[(&str, &str)]) -> Self {
        let body = serde_urlencoded::to_string(form).unwrap_or_default();
        HttpRequest {
            method: "POST",
            url,
            headers: vec![
                ("Accept", "application/json".into()),
                ("Content-Type", "application/x-www-form-urlencoded".into()),
            ],
            body: Some(body.into_bytes()),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", format!("Bearer {token}"))
    }

    pub fn basic(self, user: &str, password: &str) -> Self {
        self.header(
            "Authorization",
            format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
    /// Response headers, names lower-cased (`retry-after`, rate-limit ones).
    pub headers: Vec<(String, String)>,
}

impl HttpResponse {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in seconds (RFC 9110 section 10.2.3; the HTTP-date form
    /// is not used by the providers here and is ignored).
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.header("retry-after")?.trim().parse().ok()
    }
}

/// What a provider said about credentials or a connection.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Works. Carries non-secret account facts to keep in the settings.
    Ok(serde_json::Value),
    /// The credentials are not accepted (401, or a key without the rights needed).
    Unauthorized(String),
    /// The credentials work but the request is wrong (unknown account...).
    Rejected(String),
    /// The provider is down, rate-limiting or answering nonsense: try later.
    Unavailable(String),
    /// No answer at all (connection refused or reset, timeout).
    Unreachable(String),
}

/// The common mapping of provider statuses; `ok` interprets a 2xx body and
/// `reason` extracts the provider's error message from an error body.
pub fn interpret(
    resp: &HttpResponse,
    ok: impl FnOnce(&[u8]) -> Probe,
    reason: impl Fn(&[u8]) -> Option<String>,
) -> Probe {
    let said = || {
        reason(&resp.body)
            .map(|r| sanitize(&r))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| format!("HTTP {}", resp.status))
    };
    match resp.status {
        200..=299 => ok(&resp.body),
        401 => Probe::Unauthorized(said()),
        429 => Probe::Unavailable(format!("rate limited by the provider ({})", said())),
        500..=599 => Probe::Unavailable(format!("provider error: {}", said())),
        403 => Probe::Unauthorized(said()),
        _ => Probe::Rejected(said()),
    }
}

/// The most of a provider's own words ever shown.
const MAX_PROVIDER_TEXT: usize = 200;

/// A provider's error text as it may be shown to a user or logged: markup
/// and control characters dropped, whitespace folded, at most
/// [`MAX_PROVIDER_TEXT`] characters. A provider (or anyone on its path) must
/// not be able to put HTML, terminal escapes or a megabyte into our answers.
pub fn sanitize(text: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    let mut space = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            c if c.is_whitespace() => space = !out.is_empty(),
            c if c.is_control() => {}
            c => {
                if space {
                    out.push(' ');
                    space = false;
                }
                if out.chars().count() >= MAX_PROVIDER_TEXT {
                    out.push('…');
                    return out;
                }
                out.push(c);
            }
        }
    }
    out
}

/// Reads `{"error": {"message": ...}}` (OpenAI, Anthropic) or
/// `{"detail": ...}` (Django REST framework, as Octopus uses) or
/// `{"message": ...}` error bodies.
pub fn error_message(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Nested {
        message: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorField {
        Nested(Nested),
        Text(String),
    }
    #[derive(Deserialize)]
    struct Body {
        error: Option<ErrorField>,
        detail: Option<String>,
        message: Option<String>,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    let nested = match body.error {
        Some(ErrorField::Nested(n)) => n.message,
        Some(ErrorField::Text(t)) => Some(t),
        None => None,
    };
    nested
        .or(body.detail)
        .or(body.message)
        .map(|m| truncate(&m, 300))
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> HttpResponse {
        HttpResponse::new(status, body)
    }

    fn probe(status: u16, body: &str) -> Probe {
        interpret(
            &resp(status, body),
            |_| Probe::Ok(serde_json::Value::Null),
            error_message,
        )
    }

    #[test]
    fn statuses_map_to_probe_outcomes() {
        assert_eq!(probe(200, "{}"), Probe::Ok(serde_json::Value::Null));
        assert!(
            matches!(probe(401, r#"{"detail":"Invalid API key."}"#), Probe::Unauthorized(m) if m == "Invalid API key.")
        );
        assert!(matches!(
            probe(404, r#"{"detail":"Not found."}"#),
            Probe::Rejected(_)
        ));
        assert!(matches!(probe(429, "{}"), Probe::Unavailable(_)));
        assert!(matches!(probe(503, "<html>"), Probe::Unavailable(m) if m.contains("HTTP 503")));
    }

    #[test]
    fn provider_error_messages_are_extracted() {
        let openai = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(
            error_message(openai.as_bytes()).as_deref(),
            Some("Incorrect API key provided")
        );
        let anthropic = r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
        assert_eq!(
            error_message(anthropic.as_bytes()).as_deref(),
            Some("invalid x-api-key")
        );
        assert_eq!(error_message(b"<html>").as_deref(), None);
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        let req = HttpRequest::get("https://x.test".into()).basic("sk_live_abc", "");
        assert_eq!(req.headers[1].1, "Basic c2tfbGl2ZV9hYmM6");
    }
}
