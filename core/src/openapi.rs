//! The OpenAPI 3.1 document served at `GET /api/v1/openapi.json`.
//!
//! Written by hand (it is the contract the frontend is built against) and held
//! to the route table by the tests below: a route missing from the document, or
//! a documented operation that no route serves, fails `cargo test`.

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::DOCUMENT;
    use crate::routes::{Access, ROUTES};
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

    #[test]
    fn every_route_is_documented() {
        let doc = doc();
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{} {} is missing from openapi.json",
                route.method,
                route.path
            );
            assert!(
                op["responses"].is_object(),
                "{} {} has no responses",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn every_documented_operation_is_routed() {
        let doc = doc();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS.iter().filter(|m| item.get(**m).is_some()) {
                let routed = ROUTES
                    .iter()
                    .any(|r| r.path == path && r.method.eq_ignore_ascii_case(method));
                assert!(
                    routed,
                    "openapi.json documents {method} {path}, which no route serves"
                );
            }
        }
    }

    #[test]
    fn protected_routes_declare_security_and_401() {
        let doc = doc();
        for route in ROUTES.iter().filter(|r| r.access == Access::User) {
            let op = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
            assert!(
                op["security"].is_array(),
                "{} {} lacks security",
                route.method,
                route.path
            );
            assert!(
                op["responses"]["401"].is_object(),
                "{} {} lacks 401",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn every_problem_type_is_listed() {
        use crate::auth::AuthError;
        use crate::error::ApiError;
        let doc = doc();
        let listed = &doc["components"]["schemas"]["Problem"]["properties"]["type"]["enum"];
        let all = [
            ApiError::bad_request(""),
            ApiError::from(AuthError::Missing),
            ApiError::not_found(""),
            ApiError::MethodNotAllowed { allow: vec![] },
            ApiError::PayloadTooLarge { limit_bytes: 1 },
            ApiError::UnsupportedMediaType { expected: "" },
            ApiError::unprocessable("", ""),
            ApiError::ServiceUnavailable {
                detail: String::new(),
            },
            ApiError::internal(""),
        ];
        for err in all {
            let uri = format!("/problems/{}", err.slug());
            assert!(
                listed.as_array().unwrap().iter().any(|v| v == &uri),
                "{uri} not in Problem.type enum"
            );
        }
    }
}
