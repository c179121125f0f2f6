//! Matching a request's method and path against the route table.

use super::{Route, ROUTES};

/// Path parameters captured by `{name}` segments, already percent-decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    Found(&'static Route, Params),
    /// The path exists, not with this method. Holds the `Allow` list.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// Finds the route for `method path`. HEAD is served by the GET route.
pub fn resolve(method: &str, path: &str) -> RouteMatch {
    match best_pattern(path) {
        Some(pattern) => resolve_pattern(method, pattern, path),
        None => RouteMatch::NotFound,
    }
}

/// [`resolve`] once [`best_pattern`] has found `path`'s pattern.
pub fn resolve_pattern(method: &str, pattern: &'static str, path: &str) -> RouteMatch {
    let wanted = if method == "HEAD" { "GET" } else { method };
    match ROUTES
        .iter()
        .find(|r| r.path == pattern && r.method == wanted)
    {
        Some(found) => RouteMatch::Found(found, capture(found.path, path)),
        None => RouteMatch::MethodNotAllowed(allowed_methods(pattern)),
    }
}

/// Every method a path pattern answers to, as sent in `Allow`.
pub fn allowed_methods(pattern: &str) -> Vec<&'static str> {
    let mut allow: Vec<&'static str> = ROUTES
        .iter()
        .filter(|r| r.path == pattern)
        .map(|r| r.method)
        .collect();
    if allow.contains(&"GET") {
        allow.push("HEAD");
    }
    allow.push("OPTIONS");
    allow
}

/// The pattern matching `path` with the most literal segments, so
/// `/integrations/categories` wins over `/integrations/{id}`.
pub fn best_pattern(path: &str) -> Option<&'static str> {
    // A pattern equal to the path has only literal segments, the most any
    // match can have: no need to rank (most requests take this way).
    if let Some(exact) = ROUTES.iter().find(|r| r.path == path) {
        return Some(exact.path);
    }
    ROUTES
        .iter()
        .map(|r| r.path)
        .filter(|pattern| matches(pattern, path))
        .max_by_key(|pattern| {
            let literals = pattern.split('/').filter(|s| !s.starts_with('{')).count();
            // max_by_key keeps the last maximum; negate table order to keep the first.
            (
                literals,
                std::cmp::Reverse(ROUTES.iter().position(|r| r.path == *pattern)),
            )
        })
}

fn matches(pattern: &str, path: &str) -> bool {
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(seg), Some(actual)) if is_param(seg) => {
                if actual.is_empty() {
                    return false;
                }
            }
            (Some(seg), Some(actual)) if seg == actual => {}
            _ => return false,
        }
    }
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn capture(pattern: &'static str, path: &str) -> Params {
    Params(
        pattern
            .split('/')
            .zip(path.split('/'))
            .filter(|(seg, _)| is_param(seg))
            .map(|(seg, actual)| (&seg[1..seg.len() - 1], percent_decode(actual)))
            .collect(),
    )
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::{capture, matches, percent_decode};

    #[test]
    fn known_route_is_found() {
        match resolve("GET", "/api/v1/health") {
            RouteMatch::Found(route, _) => assert_eq!(route.id, RouteId::Health),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn head_is_served_by_get() {
        assert!(
            matches!(resolve("HEAD", "/api/v1/me"), RouteMatch::Found(r, _) if r.id == RouteId::Me)
        );
    }

    #[test]
    fn wrong_method_lists_allowed_ones() {
        assert_eq!(
            resolve("DELETE", "/api/v1/health"),
            RouteMatch::MethodNotAllowed(vec!["GET", "HEAD", "OPTIONS"])
        );
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/",
            "/api/v1",
            "/api/v1/health/",
            "/api/v1/healthz",
            "/api/v2/health",
        ] {
            assert_eq!(resolve("GET", path), RouteMatch::NotFound, "{path}");
        }
    }

    #[test]
    fn literal_segment_beats_parameter() {
        match resolve("GET", "/api/v1/integrations/categories") {
            RouteMatch::Found(route, _) => assert_eq!(route.id, RouteId::IntegrationCategories),
            other => panic!("{other:?}"),
        }
        match resolve("GET", "/api/v1/integrations/xero") {
            RouteMatch::Found(route, params) => {
                assert_eq!(route.id, RouteId::IntegrationGet);
                assert_eq!(params.get("id"), Some("xero"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn params_are_captured_and_decoded() {
        assert!(matches("/a/{id}/b", "/a/x%20y/b"));
        assert!(!matches("/a/{id}/b", "/a//b"));
        let params = capture("/a/{id}/b", "/a/x%20y/b");
        assert_eq!(params.get("id"), Some("x y"));
    }

    #[test]
    fn bad_percent_escapes_are_kept_literally() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41"), "A");
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {}",
                    a.method,
                    a.path
                );
            }
        }
    }
}
