//! The page the OAuth callback answers with. It runs in the popup the
//! frontend opened, tells the opener how the connection went with
//! `postMessage` to the configured frontend origin only (never `*`, which
//! would hand the result to whatever page opened the popup), and closes.

use serde::Serialize;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Outcome {
    /// `connected`, `cancelled` or `error`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datasource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Outcome {
    pub fn connected(datasource_id: String) -> Self {
        Outcome {
            status: "connected",
            datasource_id: Some(datasource_id),
            error: None,
        }
    }

    pub fn cancelled() -> Self {
        Outcome {
            status: "cancelled",
            datasource_id: None,
            error: None,
        }
    }

    pub fn error(message: impl Into<String>) -> Self {
        Outcome {
            status: "error",
            datasource_id: None,
            error: Some(message.into()),
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
        "connected" => "Connected. You can close this window.".to_owned(),
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
            &Outcome::connected("ds_1".into()),
            "https://app.example.test",
            "n0nce",
        );
        assert!(page.contains(r#"postMessage(result, "https://app.example.test")"#));
        assert!(!page.contains("'*'") && !page.contains("\"*\""));
        assert!(page.contains(r#"{"status":"connected","datasource_id":"ds_1"}"#));
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
