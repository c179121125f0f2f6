//! The one structured log line written per request.
//!
//! Only what is safe to keep: the route *pattern* rather than the raw path and
//! never the query string (OAuth callbacks carry codes and state there), no
//! headers, no bodies, no tokens. Internal error causes are our own messages.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct RequestLog<'a> {
    pub level: &'static str,
    pub msg: &'static str,
    pub request_id: &'a str,
    pub method: &'a str,
    /// The matched pattern (`/api/v1/integrations/{id}`), or `unmatched`.
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    /// Statements sent to D1 while serving the request.
    pub d1_statements: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

impl RequestLog<'_> {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"level":"error","msg":"log serialisation failed"}"#.into())
    }
}

pub fn level_for(status: u16) -> &'static str {
    match status {
        500.. => "error",
        400..=499 => "warn",
        _ => "info",
    }
}
