use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::catalog::{catalog, model::AuthType};

fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    settings(pairs)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn resp(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::new(status, body.to_string())
}

#[test]
fn every_provider_is_in_the_catalog_with_matching_auth() {
    for p in PROVIDERS {
        let entry = catalog()
            .get(p.id())
            .unwrap_or_else(|| panic!("{} not in catalog", p.id()));
        let i = &entry.integration;
        match p.oauth() {
            Some(spec) => {
                assert_eq!(i.auth_type, AuthType::OAuth2, "{}", p.id());
                let listed = i.oauth.as_ref().unwrap();
                assert_eq!(listed.authorize_url, spec.authorize_url, "{}", p.id());
                assert_eq!(listed.token_url, spec.token_url, "{}", p.id());
                assert_eq!(listed.pkce, spec.pkce, "{}", p.id());
                assert_eq!(listed.scopes, spec.scopes, "{}", p.id());
            }
            None => assert!(
                matches!(i.auth_type, AuthType::ApiKey | AuthType::Basic),
                "{}",
                p.id()
            ),
        }
        assert!(entry.capabilities.connect, "{} should show connect", p.id());
    }
}

#[test]
fn octopus_probe_reads_the_account_with_basic_auth() {
    let f = fields(&[("api_key", "sk_live_abc"), ("account_number", "A-1B2C3D4E")]);
    let req = octopus::Octopus.probe(
        Secrets::Fields(&f),
        &settings(&[("OCTOPUS_API_BASE", "http://127.0.0.1:9/")]),
    );
    assert_eq!(req.url, "http://127.0.0.1:9/v1/accounts/A-1B2C3D4E/");
    assert_eq!(
        header(&req, "authorization"),
        Some("Basic c2tfbGl2ZV9hYmM6")
    );
    let default = octopus::Octopus.probe(Secrets::Fields(&f), &settings(&[]));
    assert!(default
        .url
        .starts_with("https://api.octopus.energy/v1/accounts/"));
}

#[test]
fn octopus_account_lists_meter_points() {
    let body = json!({"number": "A-1B2C3D4E", "properties": [{
        "electricity_meter_points": [{"mpan": "1012345678901", "meters": [{"serial_number": "21L1234567"}],
            "agreements": [{"tariff_code": "E-1R-AGILE-24-10-01-C", "valid_from": "2024-10-01T00:00:00+01:00", "valid_to": null}], "is_export": false}],
        "gas_meter_points": [{"mprn": "1234567890", "meters": [], "agreements": []}]}]});
    let Probe::Ok(info) = octopus::Octopus.interpret_probe(&resp(200, body)) else {
        panic!()
    };
    assert_eq!(info["meter_points"][0]["mpan"], "1012345678901");
    assert_eq!(info["meter_points"][1]["type"], "gas");
}

#[test]
fn octopus_errors_are_told_apart() {
    let bad_key =
        octopus::Octopus.interpret_probe(&resp(401, json!({"detail": "Invalid API key."})));
    assert_eq!(bad_key, Probe::Unauthorized("Invalid API key.".into()));
    assert!(matches!(
        octopus::Octopus.interpret_probe(&resp(404, json!({"detail": "Not found."}))),
        Probe::Rejected(_)
    ));
    let throttled = HttpResponse::new(
        403,
        b"<HTML><HEAD><TITLE>ERROR: The request could not be satisfied".to_vec(),
    );
    assert!(matches!(
        octopus::Octopus.interpret_probe(&throttled),
        Probe::Unavailable(_)
    ));
}

#[test]
fn ai_probes_use_each_providers_auth_header() {
    let f = fields(&[("admin_key", "sk-admin-xyz")]);
    let req = openai::OpenAi.probe(Secrets::Fields(&f), &settings(&[]));
    assert_eq!(
        req.url,
        "https://api.openai.com/v1/organization/projects?limit=1"
    );
    assert_eq!(header(&req, "authorization"), Some("Bearer sk-admin-xyz"));
    let req = anthropic::Anthropic.probe(Secrets::Fields(&f), &settings(&[]));
    assert_eq!(header(&req, "x-api-key"), Some("sk-admin-xyz"));
    assert_eq!(header(&req, "anthropic-version"), Some("2023-06-01"));
}

#[test]
fn enphase_token_requests_put_the_grant_in_the_query_string() {
    let spec = enphase::Enphase.oauth().unwrap();
    let s = settings(&[
        ("ENPHASE_CLIENT_ID", "cid"),
        ("ENPHASE_CLIENT_SECRET", "csec"),
        ("ENPHASE_TOKEN_URL", "http://127.0.0.1:9/oauth/token"),
    ]);
    let client = spec.client(&s).unwrap();
    let req = spec.code_request(&s, &client, "the-code", "https://w.test/cb", None);
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "http://127.0.0.1:9/oauth/token?grant_type=authorization_code&code=the-code&redirect_uri=https%3A%2F%2Fw.test%2Fcb");
    assert_eq!(req.body, None);
    assert_eq!(header(&req, "authorization"), Some("Basic Y2lkOmNzZWM="));
    let refresh = spec.refresh_request(&s, &client, "rt-1");
    assert!(refresh
        .url
        .ends_with("?grant_type=refresh_token&refresh_token=rt-1"));
}

#[test]
fn xero_uses_pkce_and_a_form_body() {
    let spec = xero::Xero.oauth().unwrap();
    let s = settings(&[("XERO_CLIENT_ID", "cid"), ("XERO_CLIENT_SECRET", "csec")]);
    let client = spec.client(&s).unwrap();
    let url = spec.authorize_url(&s, &client, "https://w.test/cb", "st4te", Some("chall"));
    let parsed = url::Url::parse(&url).unwrap();
    let q: BTreeMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(parsed.host_str(), Some("login.xero.com"));
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], "st4te");
    assert_eq!(q["code_challenge"], "chall");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].contains("offline_access"));
    let req = spec.code_request(&s, &client, "c0de", "https://w.test/cb", Some("verifier"));
    assert_eq!(req.url, "https://identity.xero.com/connect/token");
    let body = String::from_utf8(req.body.clone().unwrap()).unwrap();
    assert_eq!(body, "grant_type=authorization_code&code=c0de&redirect_uri=https%3A%2F%2Fw.test%2Fcb&code_verifier=verifier");
    assert_eq!(
        header(&req, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[test]
fn xero_connections_become_tenants() {
    let body = json!([{"id": "e1eede29", "authEventId": "d99ecdfe", "tenantId": "70784a63", "tenantType": "ORGANISATION",
        "tenantName": "Maple Florists", "createdDateUtc": "2019-07-09T23:40:30.1833130", "updatedDateUtc": "2020-05-15T01:35:13.8491980"}]);
    let Probe::Ok(info) = xero::Xero.interpret_probe(&resp(200, body)) else {
        panic!()
    };
    assert_eq!(info["tenants"][0]["tenant_id"], "70784a63");
    assert!(matches!(
        xero::Xero.interpret_probe(&resp(200, json!([]))),
        Probe::Rejected(_)
    ));
}

#[test]
fn missing_client_configuration_names_the_setting() {
    let spec = xero::Xero.oauth().unwrap();
    assert_eq!(spec.client(&settings(&[])).unwrap_err(), "XERO_CLIENT_ID");
    assert_eq!(
        spec.client(&settings(&[("XERO_CLIENT_ID", "x")]))
            .unwrap_err(),
        "XERO_CLIENT_SECRET"
    );
}

#[test]
fn only_xero_offers_revocation() {
    let tokens = crate::oauth::TokenSet {
        access_token: "a".into(),
        refresh_token: Some("r".into()),
        expires_at: None,
        scope: None,
    };
    let s = settings(&[("XERO_CLIENT_ID", "cid"), ("XERO_CLIENT_SECRET", "csec")]);
    let req = xero::Xero.revoke(&tokens, &s).unwrap();
    assert_eq!(req.url, "https://identity.xero.com/connect/revocation");
    assert_eq!(req.body.as_deref(), Some(&b"token=r"[..]));
    assert!(enphase::Enphase.revoke(&tokens, &s).is_none());
}

#[test]
fn provider_text_loses_markup_controls_and_length() {
    use super::sanitize;
    assert_eq!(
        sanitize("  Invalid   API\tkey \u{1b}[31m"),
        "Invalid API key [31m"
    );
    assert_eq!(
        sanitize("<html><body><h1>403 ERROR</h1></body></html>"),
        "403 ERROR"
    );
    let long = "x".repeat(5000);
    assert!(sanitize(&long).chars().count() <= 201);
}

#[test]
fn the_default_sync_period_follows_publication_then_granularity() {
    let get = |id: &str| &crate::catalog::catalog().get(id).unwrap().integration;
    assert_eq!(
        super::default_sync_minutes(get("octopus-energy")),
        1440,
        "half-hourly data, published daily"
    );
    assert_eq!(
        super::default_sync_minutes(get("home-assistant")),
        60,
        "hourly statistics"
    );
    assert_eq!(
        super::default_sync_minutes(get("solaredge")),
        15,
        "fifteen-minute data"
    );
    assert_eq!(super::default_sync_minutes(get("csv-upload")), 1440);
}
