//! The page the OAuth callback answers with. It runs in the popup the
//! frontend opened and relays the provider's answer (`state` and `code`, or
//! the error) to the opener with `postMessage`, to the configured frontend
//! origin only (never `*`, which would hand the code to whatever page opened
//! the popup), then closes.
//!
//! The page finishes nothing itself: the frontend completes the connection
//! with `POST /api/v1/datasources/oauth/complete` and the user's session
//! token, so a grant can only land in the account of the person who started
//! it *and* holds the code. A provider URL forwarded to someone else ends
//! with their browser showing this page and nothing stored.

use serde::Serialize;

/// Marks the message so the frontend can tell it from other messages.
pub const MESSAGE_SOURCE: &str = "carbon-oauth";

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub source: &'static str,
    /// `authorized` (complete it), `cancelled` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    fn new(status: &'static str) -> Self {
        Outcome {
            source: MESSAGE_SOURCE,
            status,
            integration_id: None,
            state: None,
            code: None,
            error: None,
        }
    }

    /// The provider granted access: the frontend completes with these.
    pub fn authorized(integration_id: &str, state: String, code: String) -> Self {
        Outcome {
            integration_id: Some(integration_id.to_owned()),
            state: Some(state),
            code: Some(code),
            ..Self::new("authorized")
        }
    }

    /// The user declined at the provider; `state` lets the frontend retire it.
    pub fn cancelled(integration_id: &str, state: String) -> Self {
        Outcome {
            integration_id: Some(integration_id.to_owned()),
            state: Some(state),
            ..Self::new("cancelled")
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Outcome {
            error: Some(message.into()),
            ..Self::new("error")
        }
    }
}

/// JSON safe to embed in a `<script>` element: `<`, `>` and `&` are escaped
/// so no value can close the element or open a comment.
fn script_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The Content-Security-Policy for the page: only its own script runs.
pub fn content_security_policy(nonce: &str) -> String {
    format!("default-src 'none'; script-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
}

pub fn render(outcome: &Outcome, target_origin: &str, nonce: &str) -> String {
    let message = match outcome.status {
        "authorized" => {
            "Authorised. Finishing the connection; you can close this window.".to_owned()
        }
        "cancelled" => "Connection cancelled. You can close this window.".to_owned(),
        _ => format!(
            "Connection failed: {}",
            outcome.error.as_deref().unwrap_or("unknown error")
        ),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Connecting…</title></head>
<body><p>{message}</p>
<script nonce="{nonce}">
(function () {{
  var result = {result};
  if (window.opener) {{ window.opener.postMessage(result, {origin}); }}
  window.close();
}})();
</script></body></html>
"#,
        message = html_escape(&message),
        nonce = nonce,
        result = script_json(outcome),
        origin = script_json(&target_origin),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_to_the_configured_origin_never_star() {
        let page = render(
            &Outcome::authorized("xero", "st".into(), "c0de".into()),
            "https://app.example.test",
            "n0nce",
        );
        assert!(page.contains(r#"postMessage(result, "https://app.example.test")"#));
        assert!(!page.contains("'*'") && !page.contains("\"*\""));
        assert!(page.contains(
            r#"{"source":"carbon-oauth","status":"authorized","integration_id":"xero","state":"st","code":"c0de"}"#
        ));
        assert!(page.contains(r#"<script nonce="n0nce">"#));
    }

    #[test]
    fn provider_text_cannot_break_out_of_the_script_or_markup() {
        let page = render(
            &Outcome::error("</script><script>alert(1)</script>"),
            "https://a.test",
            "n",
        );
        assert_eq!(
            page.matches("</script>").count(),
            1,
            "only the page's own closing tag"
        );
        assert!(page.contains("&lt;/script&gt;"));
    }

    #[test]
    fn csp_allows_only_the_nonce() {
        let csp = content_security_policy("abc");
        assert!(csp.contains("script-src 'nonce-abc'") && csp.starts_with("default-src 'none'"));
    }
}
