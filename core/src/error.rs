//! The one API error type, and its rendering as RFC 9457 problem details.
//!
//! Every failure the API answers with goes through [`ApiError`], so every client
//! sees one JSON shape (`application/problem+json`) whatever went wrong. Internal
//! errors keep their cause for the log line and answer with an opaque body.
//! See <https://www.rfc-editor.org/rfc/rfc9457>.

use serde::Serialize;

use crate::auth::AuthError;

/// Media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One field that failed validation, named by its JSON path (`settings.frequency`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Everything an endpoint can fail with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the request is syntactically wrong (malformed JSON, bad query parameter).
    BadRequest {
        detail: String,
        field: Option<String>,
    },
    /// 401: missing or invalid credentials.
    Unauthorized(AuthError),
    /// 404: nothing here, or nothing here *for this user* (never reveal which).
    NotFound { detail: String },
    /// 405: the path exists with other methods.
    MethodNotAllowed { allow: Vec<&'static str> },
    /// 413: the body is larger than the route accepts.
    PayloadTooLarge { limit_bytes: usize },
    /// 415: the body is not in a media type the route accepts.
    UnsupportedMediaType { expected: &'static str },
    /// 422: well-formed JSON whose fields are invalid.
    Unprocessable { errors: Vec<FieldError> },
    /// 409: the resource's state does not allow this (disabled, needs reauthorisation).
    Conflict { detail: String },
    /// 429: over a rate limit; try again after `retry_after_secs`.
    TooManyRequests {
        detail: String,
        retry_after_secs: u32,
    },
    /// 502: a provider answered with something unusable, or could not be reached.
    BadGateway { detail: String },
    /// 503: a dependency (D1, the key set, a provider) is unavailable right now,
    /// or a required setting is missing.
    ServiceUnavailable { detail: String },
    /// 500: a bug or misconfiguration. The cause is logged, never returned.
    Internal { cause: String },
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            detail: detail.into(),
            field: None,
        }
    }

    pub fn invalid_param(field: &str, detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            detail: detail.into(),
            field: Some(field.to_owned()),
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::NotFound {
            detail: detail.into(),
        }
    }

    pub fn unprocessable(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            errors: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        ApiError::Internal {
            cause: cause.into(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::NotFound { .. } => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::Unprocessable { .. } => 422,
            ApiError::Conflict { .. } => 409,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::BadGateway { .. } => 502,
            ApiError::ServiceUnavailable { .. } => 503,
            ApiError::Internal { .. } => 500,
        }
    }

    /// Stable slug naming the problem type; clients switch on this, not on `title`.
    pub fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::NotFound { .. } => "not-found",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType { .. } => "unsupported-media-type",
            ApiError::Unprocessable { .. } => "validation-failed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::TooManyRequests { .. } => "rate-limited",
            ApiError::BadGateway { .. } => "bad-gateway",
            ApiError::ServiceUnavailable { .. } => "service-unavailable",
            ApiError::Internal { .. } => "internal-error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "Bad request",
            ApiError::Unauthorized(_) => "Authentication required",
            ApiError::NotFound { .. } => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType { .. } => "Unsupported media type",
            ApiError::Unprocessable { .. } => "Validation failed",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::BadGateway { .. } => "Bad gateway",
            ApiError::ServiceUnavailable { .. } => "Service unavailable",
            ApiError::Internal { .. } => "Internal server error",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::NotFound { detail }
            | ApiError::Conflict { detail }
            | ApiError::TooManyRequests { detail, .. }
            | ApiError::BadGateway { detail }
            | ApiError::ServiceUnavailable { detail } => detail.clone(),
            ApiError::Unauthorized(reason) => reason.to_string(),
            ApiError::MethodNotAllowed { allow } => {
                format!("allowed methods: {}", allow.join(", "))
            }
            ApiError::PayloadTooLarge { limit_bytes } => {
                format!("request body exceeds the limit of {limit_bytes} bytes")
            }
            ApiError::UnsupportedMediaType { expected } => {
                format!("request body must be {expected}")
            }
            ApiError::Unprocessable { errors } => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                _ => format!("{} fields are invalid", errors.len()),
            },
            // Deliberately opaque: the cause may hold internals or secrets.
            ApiError::Internal { .. } => {
                "an unexpected error occurred; quote the request id when reporting it".into()
            }
        }
    }

    /// Extra response headers this error requires (`Allow` on 405,
    /// `WWW-Authenticate` on 401 per RFC 6750 section 3).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::MethodNotAllowed { allow } => vec![("Allow", allow.join(", "))],
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => vec![("Retry-After", retry_after_secs.to_string())],
            // A webhook sender signs; it has no token to send.
            ApiError::Unauthorized(AuthError::Webhook(_)) => Vec::new(),
            ApiError::Unauthorized(reason) => {
                let value = if reason.is_missing() {
                    r#"Bearer realm="api""#.to_owned()
                } else {
                    r#"Bearer realm="api", error="invalid_token""#.to_owned()
                };
                vec![("WWW-Authenticate", value)]
            }
            _ => Vec::new(),
        }
    }

    /// The problem-details body for this error.
    pub fn to_problem(&self, instance: &str, request_id: &str) -> Problem {
        let (field, errors) = match self {
            ApiError::BadRequest { field, .. } => (field.clone(), Vec::new()),
            ApiError::Unprocessable { errors } => (
                errors
                    .first()
                    .map(|e| e.field.clone())
                    .filter(|_| errors.len() == 1),
                errors.clone(),
            ),
            _ => (None, Vec::new()),
        };
        Problem {
            type_uri: format!("/problems/{}", self.slug()),
            title: self.title(),
            status: self.status(),
            detail: self.detail(),
            instance: instance.to_owned(),
            request_id: request_id.to_owned(),
            field,
            errors,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            // The cause (an issuer URL, a network error) is for the log,
            // which the adapter writes; the client learns only to retry.
            AuthError::KeysUnavailable(_) => ApiError::ServiceUnavailable {
                detail: "session verification is temporarily unavailable; retry shortly".into(),
            },
            other => ApiError::Unauthorized(other),
        }
    }
}

/// RFC 9457 problem details, with two extension members: `request_id` (also in
/// the `X-Request-Id` header and the log line) and, for validation failures,
/// `field`/`errors` naming what to fix.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn internal_error_is_opaque() {
        let err = ApiError::internal("D1 said: secret_token=abc123");
        let body = serde_json::to_value(err.to_problem("/api/v1/x", "req-1")).unwrap();
        assert_eq!(body["status"], 500);
        assert!(!body.to_string().contains("abc123"));
        assert_eq!(body["request_id"], "req-1");
    }

    #[test]
    fn method_not_allowed_lists_allow_header() {
        let err = ApiError::MethodNotAllowed {
            allow: vec!["GET", "OPTIONS"],
        };
        assert_eq!(err.status(), 405);
        assert_eq!(err.headers(), vec![("Allow", "GET, OPTIONS".to_owned())]);
    }

    #[test]
    fn problem_has_every_rfc9457_member() {
        let err = ApiError::not_found("no route for /nope");
        let body = serde_json::to_value(err.to_problem("/nope", "req-2")).unwrap();
        assert_eq!(
            body,
            json!({
                "type": "/problems/not-found",
                "title": "Not found",
                "status": 404,
                "detail": "no route for /nope",
                "instance": "/nope",
                "request_id": "req-2"
            })
        );
    }

    #[test]
    fn validation_error_names_the_field() {
        let err = ApiError::unprocessable("display_name", "must not be empty");
        let body = serde_json::to_value(err.to_problem("/x", "r")).unwrap();
        assert_eq!(body["status"], 422);
        assert_eq!(body["field"], "display_name");
        assert_eq!(body["errors"][0]["message"], "must not be empty");
    }

    #[test]
    fn missing_token_gets_plain_bearer_challenge() {
        let err = ApiError::from(AuthError::Missing);
        assert_eq!(err.status(), 401);
        assert_eq!(err.headers()[0].1, r#"Bearer realm="api""#);
        let expired = ApiError::from(AuthError::Expired);
        assert!(expired.headers()[0].1.contains("invalid_token"));
    }

    #[test]
    fn unreachable_key_set_is_503_not_401() {
        let err = ApiError::from(AuthError::KeysUnavailable("timeout".into()));
        assert_eq!(err.status(), 503);
    }
}
