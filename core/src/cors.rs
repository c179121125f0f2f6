//! CORS for the frontend, per the Fetch standard
//! (<https://fetch.spec.whatwg.org/#http-cors-protocol>).
//!
//! The frontend sends credentials (the `__session` cookie), so the allowed
//! origin is always echoed exactly, never `*`, and `Vary: Origin` is set on
//! every answer so caches keep one copy per origin. Origins not in
//! `ALLOWED_ORIGINS` get no CORS headers at all: the browser then blocks them.

/// Request headers a browser may send cross-origin.
const ALLOWED_REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "if-none-match",
    "idempotency-key",
];

/// Response headers the frontend may read besides the CORS-safelisted ones.
const EXPOSED_HEADERS: &str = "X-Request-Id, ETag, Location, Retry-After";

/// How long a browser may cache a preflight answer (seconds).
const PREFLIGHT_MAX_AGE: &str = "600";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Parses `ALLOWED_ORIGINS`: comma-separated `scheme://host[:port]`.
    /// `*` is refused: with credentials it would have to echo every origin,
    /// which is the same as trusting the whole web.
    pub fn parse(value: &str) -> Result<Self, String> {
        let mut origins = Vec::new();
        for raw in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !is_origin(raw) {
                return Err(format!(
                    "ALLOWED_ORIGINS entry {raw:?} is not an origin (scheme://host[:port], no path, no '*')"
                ));
            }
            origins.push(raw.trim_end_matches('/').to_ascii_lowercase());
        }
        Ok(CorsPolicy { origins })
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Headers for an actual (non-preflight) response.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        let mut headers = vec![("Vary", "Origin".to_owned())];
        if let Some(origin) = origin.filter(|o| self.allows(o)) {
            headers.push(("Access-Control-Allow-Origin", origin.to_owned()));
            headers.push(("Access-Control-Allow-Credentials", "true".to_owned()));
            headers.push(("Access-Control-Expose-Headers", EXPOSED_HEADERS.to_owned()));
        }
        headers
    }

    /// Headers answering a preflight for a path allowing `methods`. `None`
    /// when the origin, method or a requested header is not allowed: the
    /// answer then carries no CORS headers and the browser stops there.
    pub fn preflight_headers(
        &self,
        origin: &str,
        requested_method: &str,
        requested_headers: Option<&str>,
        methods: &[&str],
    ) -> Option<Vec<(&'static str, String)>> {
        if !self.allows(origin) || !methods.contains(&requested_method) {
            return None;
        }
        let requested: Vec<String> = requested_headers
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if requested
            .iter()
            .any(|h| !ALLOWED_REQUEST_HEADERS.contains(&h.as_str()))
        {
            return None;
        }
        let mut headers = self.response_headers(Some(origin));
        headers.retain(|(name, _)| *name != "Access-Control-Expose-Headers");
        headers.push(("Access-Control-Allow-Methods", methods.join(", ")));
        if !requested.is_empty() {
            headers.push(("Access-Control-Allow-Headers", requested.join(", ")));
        }
        headers.push(("Access-Control-Max-Age", PREFLIGHT_MAX_AGE.to_owned()));
        headers.push((
            "Vary",
            "Access-Control-Request-Method, Access-Control-Request-Headers".to_owned(),
        ));
        Some(headers)
    }
}

fn is_origin(value: &str) -> bool {
    let Some((scheme, rest)) = value.split_once("://") else {
        return false;
    };
    let host = rest.trim_end_matches('/');
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !host.contains(['/', '*', '?', '#', '@', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CorsPolicy {
        CorsPolicy::parse("http://localhost:4321, https://app.example.test").unwrap()
    }

    fn get<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn allowed_origin_is_echoed_with_credentials() {
        let headers = policy().response_headers(Some("https://app.example.test"));
        assert_eq!(
            get(&headers, "Access-Control-Allow-Origin"),
            Some("https://app.example.test")
        );
        assert_eq!(
            get(&headers, "Access-Control-Allow-Credentials"),
            Some("true")
        );
        assert_eq!(get(&headers, "Vary"), Some("Origin"));
    }

    #[test]
    fn other_origin_gets_no_cors_headers() {
        let headers = policy().response_headers(Some("https://evil.example.test"));
        assert_eq!(headers, vec![("Vary", "Origin".to_owned())]);
    }

    #[test]
    fn wildcard_and_paths_are_refused_in_config() {
        assert!(CorsPolicy::parse("*").is_err());
        assert!(CorsPolicy::parse("https://a.test/app").is_err());
        assert!(CorsPolicy::parse("a.test").is_err());
        assert_eq!(
            CorsPolicy::parse("").unwrap(),
            CorsPolicy { origins: vec![] }
        );
    }

    #[test]
    fn preflight_allows_listed_method_and_headers() {
        let headers = policy()
            .preflight_headers(
                "http://localhost:4321",
                "GET",
                Some("Authorization, Content-Type"),
                &["GET", "HEAD", "OPTIONS"],
            )
            .unwrap();
        assert_eq!(
            get(&headers, "Access-Control-Allow-Methods"),
            Some("GET, HEAD, OPTIONS")
        );
        assert_eq!(
            get(&headers, "Access-Control-Allow-Headers"),
            Some("authorization, content-type")
        );
        assert_eq!(get(&headers, "Access-Control-Max-Age"), Some("600"));
    }

    #[test]
    fn preflight_refuses_unlisted_method_header_or_origin() {
        let p = policy();
        let methods = ["GET", "OPTIONS"];
        assert!(p
            .preflight_headers("http://localhost:4321", "DELETE", None, &methods)
            .is_none());
        assert!(p
            .preflight_headers("http://localhost:4321", "GET", Some("x-evil"), &methods)
            .is_none());
        assert!(p
            .preflight_headers("http://localhost:9999", "GET", None, &methods)
            .is_none());
    }
}
