//! The OpenAPI 3.1 document served at `GET /api/v1/openapi.json`.
//!
//! Written by hand (it is the contract the frontend is built against) and held
//! to the route table by the tests below: a route missing from the document, or
//! a documented operation that no route serves, fails `cargo test`.

pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod reading_tests;

#[cfg(test)]
mod tests {
    use super::DOCUMENT;
    use crate::routes::{Access, ROUTES};
    use serde_json::Value;

    pub(super) fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is valid JSON")
    }

    const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

    /// The document states which integrations each way of connecting takes,
    /// exactly as the code decides it: a generated client (or a property-based
    /// tester) then only sends ids the API accepts.
    #[test]
    fn integration_id_enums_are_what_the_code_connects() {
        use crate::datasources::{ids_connected_by, Connect};
        let doc = doc();
        for (schema, method) in [
            ("CreateDatasource", Connect::Direct),
            ("AuthorizeRequest", Connect::OAuth),
        ] {
            let listed: Vec<&str> = doc["components"]["schemas"][schema]["properties"]
                ["integration_id"]["enum"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let expected = ids_connected_by(method);
            assert!(!expected.is_empty());
            assert_eq!(
                listed,
                expected,
                "{schema}.integration_id.enum should be {}",
                serde_json::to_string(&expected).unwrap()
            );
        }
    }

    /// `CreateDatasource.oneOf`: one branch per credential shape, naming
    /// the integrations that take it and each field's pattern, exactly as
    /// `check_credentials` applies them (all fields required, no others).
    #[test]
    fn create_states_each_integrations_credentials() {
        use crate::datasources::{ids_connected_by, Connect, MAX_FIELD};
        use serde_json::json;
        let mut branches: Vec<(Value, Vec<&str>)> = Vec::new();
        for id in ids_connected_by(Connect::Direct) {
            let entry = crate::catalog::catalog().get(id).unwrap();
            let fields = &entry.integration.credential_fields;
            let credentials = if fields.is_empty() {
                json!({"type": "object", "maxProperties": 0})
            } else {
                let props: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|f| {
                        let pattern = f.pattern.clone().unwrap_or_else(|| "\\S".into());
                        let schema = json!({"type": "string", "minLength": 1, "maxLength": MAX_FIELD, "pattern": pattern});
                        (f.name.clone(), schema)
                    })
                    .collect();
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                json!({"type": "object", "additionalProperties": false, "required": names, "properties": props})
            };
            match branches.iter_mut().find(|(c, _)| *c == credentials) {
                Some((_, ids)) => ids.push(id),
                None => branches.push((credentials, vec![id])),
            }
        }
        let expected: Vec<Value> = branches
            .into_iter()
            .map(|(credentials, ids)| {
                let required: &[&str] = if credentials["maxProperties"] == 0 {
                    &["integration_id"]
                } else {
                    &["integration_id", "credentials"]
                };
                json!({
                    "required": required,
                    "properties": {"integration_id": {"enum": ids}, "credentials": credentials},
                })
            })
            .collect();
        let doc = doc();
        let listed = &doc["components"]["schemas"]["CreateDatasource"]["oneOf"];
        assert_eq!(
            listed,
            &Value::from(expected.clone()),
            "CreateDatasource.oneOf should be {}",
            serde_json::to_string(&expected).unwrap()
        );
    }

    /// Every `enum` the document gives an edition (the factors query, the
    /// pinned edition setting) is the editions held, in order.
    #[test]
    fn edition_enums_are_the_editions_held() {
        let held: Vec<Value> = crate::emissions::factors::factors()
            .editions
            .iter()
            .map(|e| Value::from(e.id.as_str()))
            .collect();
        let doc = doc();
        let mut found = 0;
        fn walk(v: &Value, key: Option<&str>, held: &[Value], found: &mut usize) {
            match v {
                Value::Object(map) => {
                    let named = matches!(key, Some("emission_factor_edition"))
                        || map.get("name").and_then(Value::as_str) == Some("edition");
                    if named {
                        let schema = map.get("schema").unwrap_or(v);
                        assert_eq!(schema["enum"].as_array().map(Vec::as_slice), Some(held));
                        *found += 1;
                    }
                    for (k, child) in map {
                        walk(child, Some(k), held, found);
                    }
                }
                Value::Array(items) => items.iter().for_each(|i| walk(i, None, held, found)),
                _ => {}
            }
        }
        walk(&doc, None, &held, &mut found);
        assert!(found >= 2, "found {found} edition schemas");
    }

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
            ApiError::TooManyRequests {
                detail: String::new(),
                retry_after_secs: 60,
            },
            ApiError::Conflict {
                detail: String::new(),
            },
            ApiError::BadGateway {
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

    fn enum_of(doc: &Value, pointer: &str) -> Vec<String> {
        doc.pointer(pointer)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{pointer} is not an enum"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn catalog_enums_match_the_code() {
        use crate::catalog::model::{AuthType, Category, DataType, Granularity};
        use crate::catalog::Status;
        let doc = doc();
        let props = "/components/schemas/IntegrationDetail/properties";
        let names = |all: Vec<&str>| all.into_iter().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            enum_of(&doc, &format!("{props}/category/enum")),
            names(Category::ALL.iter().map(|c| c.as_str()).collect())
        );
        assert_eq!(
            enum_of(&doc, &format!("{props}/auth_type/enum")),
            names(AuthType::ALL.iter().map(|c| c.as_str()).collect())
        );
        assert_eq!(
            enum_of(&doc, &format!("{props}/status/enum")),
            names(Status::ALL.iter().map(|c| c.as_str()).collect())
        );
        assert_eq!(
            enum_of(&doc, &format!("{props}/granularity/enum")),
            names(Granularity::ALL.iter().map(|c| c.as_str()).collect())
        );
        assert_eq!(
            enum_of(&doc, &format!("{props}/data_types/items/enum")),
            names(DataType::ALL.iter().map(|c| c.as_str()).collect())
        );
    }
}
