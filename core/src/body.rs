//! Request bodies: media type, size and JSON parsing, checked at the boundary.
//!
//! Syntax errors are 400 (the client sent something that is not JSON); JSON
//! that parses but does not fit the expected shape is 422 naming the field by
//! its path, so a form can put the message next to the right input.

use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest JSON body any endpoint accepts. API bodies are small objects;
/// bulk data arrives through its own routes with their own limits.
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// What a route's body may be, and how large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyPolicy {
    pub limit: usize,
    pub media: Media,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Json,
    /// A CSV file, raw or in a browser form.
    CsvOrForm,
}

impl Media {
    pub fn accepts(self, content_type: &str) -> bool {
        match self {
            Media::Json => is_json(content_type),
            Media::CsvOrForm => matches!(
                essence(content_type).as_str(),
                "text/csv" | "application/csv" | "text/plain" | "multipart/form-data"
            ),
        }
    }

    pub fn expected(self) -> &'static str {
        match self {
            Media::Json => "application/json",
            Media::CsvOrForm => "text/csv or multipart/form-data",
        }
    }
}

impl BodyPolicy {
    pub const JSON: BodyPolicy = BodyPolicy {
        limit: JSON_BODY_LIMIT,
        media: Media::Json,
    };
    /// A pushed delivery: read whole before its signature is checked, so
    /// kept small (a day of half-hourly readings fits many times over).
    pub const WEBHOOK: BodyPolicy = BodyPolicy {
        limit: 256 * 1024,
        media: Media::Json,
    };
    pub const FILE: BodyPolicy = BodyPolicy {
        limit: crate::uploads::MAX_FILE_BYTES,
        media: Media::CsvOrForm,
    };
}

/// What the request's headers say about its body.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyHeaders<'a> {
    pub content_type: Option<&'a str>,
    pub content_length: Option<u64>,
    /// `Transfer-Encoding` present: a body of unknown length follows.
    pub chunked: bool,
}

impl BodyHeaders<'_> {
    pub fn has_body(&self) -> bool {
        self.chunked || self.content_length.is_some_and(|n| n > 0)
    }
}

/// Rejects, before the body is read, what its headers already show is wrong:
/// too large (413) or not JSON (415).
pub fn check_json_headers(headers: &BodyHeaders<'_>, limit: usize) -> Result<(), ApiError> {
    check_headers(
        headers,
        BodyPolicy {
            limit,
            media: Media::Json,
        },
    )
}

/// [`check_json_headers`] for any route's policy.
pub fn check_headers(headers: &BodyHeaders<'_>, policy: BodyPolicy) -> Result<(), ApiError> {
    if !headers.has_body() {
        return Ok(());
    }
    if headers
        .content_length
        .is_some_and(|n| n > policy.limit as u64)
    {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: policy.limit,
        });
    }
    if !headers
        .content_type
        .is_some_and(|c| policy.media.accepts(c))
    {
        return Err(ApiError::UnsupportedMediaType {
            expected: policy.media.expected(),
        });
    }
    Ok(())
}

/// Checks a body as it streams in, once `received` bytes have arrived: past
/// `limit` is a 413 whatever the headers declared (or did not), and a body
/// that is not declared JSON is a 415 as soon as its first byte arrives.
pub fn check_streamed(
    received: usize,
    content_type: Option<&str>,
    policy: BodyPolicy,
) -> Result<(), ApiError> {
    if received > 0 && !content_type.is_some_and(|c| policy.media.accepts(c)) {
        return Err(ApiError::UnsupportedMediaType {
            expected: policy.media.expected(),
        });
    }
    if received > policy.limit {
        return Err(ApiError::PayloadTooLarge {
            limit_bytes: policy.limit,
        });
    }
    Ok(())
}

/// A route that takes a JSON body refuses a request not declared as JSON,
/// whatever its length (an empty body included).
pub fn require_json(content_type: Option<&str>) -> Result<(), ApiError> {
    if content_type.is_some_and(is_json) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType {
            expected: "application/json",
        })
    }
}

/// `application/json`, or any `+json` structured suffix, with parameters.
pub fn is_json(content_type: &str) -> bool {
    let essence = essence(content_type);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The media type without parameters, lower case.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Parses a JSON body into `T`, enforcing `limit` on the bytes actually read
/// (a chunked body has no Content-Length to check up front).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, ApiError> {
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit_bytes: limit });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "request body is empty; a JSON object is expected",
        ));
    }
    // Syntax first, so trailing garbage is a 400 even when the prefix would
    // also fail the shape check; then the shape, with the failing path.
    let json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| not_json(&e))?;
    serde_path_to_error::deserialize(json).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." {
            field_from_message(err.inner())
        } else {
            path
        };
        ApiError::unprocessable(field, strip_position(&err.inner().to_string()))
    })
}

fn not_json(err: &serde_json::Error) -> ApiError {
    ApiError::bad_request(format!("request body is not valid JSON: {err}"))
}

/// serde reports a missing field at the parent's path; its name is only in
/// the message ("missing field `name`").
fn field_from_message(err: &serde_json::Error) -> String {
    let msg = err.to_string();
    msg.split('`')
        .nth(1)
        .map(str::to_owned)
        .unwrap_or_else(|| ".".into())
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: BodyPolicy = BodyPolicy {
        limit: 10,
        media: Media::Json,
    };

    #[test]
    fn a_file_route_takes_csv_or_a_form_and_nothing_else() {
        let file = BodyPolicy::FILE;
        assert!(check_streamed(5, Some("text/csv; charset=utf-8"), file).is_ok());
        assert!(check_streamed(5, Some("multipart/form-data; boundary=x"), file).is_ok());
        let json = check_streamed(5, Some("application/json"), file).unwrap_err();
        assert_eq!(json.status(), 415);
        assert_eq!(
            check_streamed(file.limit + 1, Some("text/csv"), file)
                .unwrap_err()
                .status(),
            413
        );
        assert!(file.limit > JSON_BODY_LIMIT);
    }

    #[test]
    fn streamed_body_past_the_limit_is_refused_without_any_declared_length() {
        assert!(check_streamed(10, Some("application/json"), TEN).is_ok());
        let err = check_streamed(11, Some("application/json"), TEN).unwrap_err();
        assert_eq!(err.status(), 413);
    }

    #[test]
    fn streamed_body_without_a_json_type_is_refused_at_its_first_byte() {
        assert!(check_streamed(0, None, TEN).is_ok());
        assert_eq!(check_streamed(1, None, TEN).unwrap_err().status(), 415);
        assert_eq!(
            check_streamed(1, Some("text/plain"), TEN)
                .unwrap_err()
                .status(),
            415
        );
    }

    #[test]
    fn json_route_needs_a_json_type_even_when_empty() {
        assert_eq!(require_json(None).unwrap_err().status(), 415);
        assert!(require_json(Some("application/json; charset=utf-8")).is_ok());
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        settings: Settings,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Settings {
        frequency_minutes: u32,
    }

    fn headers(ct: Option<&str>, len: u64) -> BodyHeaders<'_> {
        BodyHeaders {
            content_type: ct,
            content_length: Some(len),
            chunked: false,
        }
    }

    #[test]
    fn oversized_body_is_413_before_reading() {
        let err = check_json_headers(
            &headers(Some("application/json"), 2_000_000),
            JSON_BODY_LIMIT,
        );
        assert_eq!(err.unwrap_err().status(), 413);
    }

    #[test]
    fn non_json_body_is_415() {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let err = check_json_headers(&headers(ct, 10), JSON_BODY_LIMIT).unwrap_err();
            assert_eq!(err.status(), 415, "{ct:?}");
        }
    }

    #[test]
    fn json_variants_are_accepted() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(
                check_json_headers(&headers(Some(ct), 10), JSON_BODY_LIMIT).is_ok(),
                "{ct}"
            );
        }
        // No body, no media type needed.
        assert!(check_json_headers(&headers(None, 0), JSON_BODY_LIMIT).is_ok());
    }

    #[test]
    fn malformed_json_is_400() {
        let err = parse_json::<Input>(b"{\"name\": ", JSON_BODY_LIMIT).unwrap_err();
        assert_eq!(err.status(), 400);
        let err = parse_json::<Input>(b"{} trailing", JSON_BODY_LIMIT).unwrap_err();
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn wrong_type_is_422_naming_the_nested_field() {
        let body = br#"{"name": "x", "settings": {"frequency_minutes": "often"}}"#;
        let err = parse_json::<Input>(body, JSON_BODY_LIMIT).unwrap_err();
        assert_eq!(err.status(), 422);
        let problem = err.to_problem("/", "r");
        assert_eq!(problem.field.as_deref(), Some("settings.frequency_minutes"));
    }

    #[test]
    fn missing_field_is_422_naming_it() {
        let err = parse_json::<Input>(
            br#"{"settings": {"frequency_minutes": 5}}"#,
            JSON_BODY_LIMIT,
        )
        .unwrap_err();
        assert_eq!(err.to_problem("/", "r").field.as_deref(), Some("name"));
    }

    #[test]
    fn unknown_field_is_422() {
        let body = br#"{"name": "x", "settings": {"frequency_minutes": 5}, "admin": true}"#;
        let err = parse_json::<Input>(body, JSON_BODY_LIMIT).unwrap_err();
        assert_eq!(err.status(), 422);
    }

    #[test]
    fn body_larger_than_limit_is_413_after_reading() {
        assert_eq!(
            parse_json::<Input>(&[b' '; 11], 10).unwrap_err().status(),
            413
        );
    }
}
