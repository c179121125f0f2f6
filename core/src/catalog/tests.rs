//! The catalog data is validated here, so a bad entry fails `cargo test`
//! instead of reaching users.

use std::collections::HashSet;

use super::model::{AuthType, Category};
use super::query::{list, ListQuery};
use super::*;
use crate::providers;

fn all() -> &'static [Entry] {
    catalog().entries()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn has_at_least_100_integrations() {
    assert!(all().len() >= 100, "only {} integrations", all().len());
}

#[test]
fn every_category_has_entries() {
    for c in catalog().categories() {
        assert!(c.count > 0, "category {} is empty", c.id.as_str());
    }
}

#[test]
fn ids_are_unique_slugs() {
    let mut seen = HashSet::new();
    for e in all() {
        let id = &e.integration.id;
        let slug = regex_lite::Regex::new("^[a-z0-9]+(-[a-z0-9]+)*$").unwrap();
        assert!(slug.is_match(id), "{id} is not a slug");
        assert!(seen.insert(id.clone()), "duplicate id {id}");
    }
}

#[test]
fn required_fields_are_present() {
    for e in all() {
        let i = &e.integration;
        let id = &i.id;
        for (name, value) in [
            ("name", &i.name),
            ("summary", &i.summary),
            ("description", &i.description),
            ("history", &i.history),
            ("rate_limits", &i.rate_limits),
        ] {
            assert!(!value.trim().is_empty(), "{id}: empty {name}");
        }
        assert!(i.summary.len() <= 200, "{id}: summary over 200 characters");
        assert!(
            i.description.len() > i.summary.len(),
            "{id}: description shorter than summary"
        );
        assert!(!i.tags.is_empty(), "{id}: no tags");
        assert!(!i.data_types.is_empty(), "{id}: no data types");
        assert!(!i.regions.is_empty(), "{id}: no regions");
        assert!(i.setup_guide.len() >= 2, "{id}: setup guide needs steps");
        assert!(!i.faq.is_empty(), "{id}: no FAQ");
        assert!((1..=240).contains(&i.setup_minutes), "{id}: setup_minutes");
        assert!(
            !i.scopes.is_empty() && i.scopes.iter().all(|s| (1..=3).contains(s)),
            "{id}: scopes"
        );
        let unique: HashSet<_> = i.scopes.iter().collect();
        assert_eq!(unique.len(), i.scopes.len(), "{id}: duplicate scope");
    }
}

fn assert_https_url(id: &str, what: &str, value: &str) {
    let url = url::Url::parse(value).unwrap_or_else(|e| panic!("{id}: {what} {value:?}: {e}"));
    assert_eq!(url.scheme(), "https", "{id}: {what} must be https");
    assert!(
        url.host_str().is_some_and(|h| h.contains('.')),
        "{id}: {what} has no host"
    );
}

#[test]
fn urls_are_well_formed() {
    for e in all() {
        let i = &e.integration;
        assert_https_url(&i.id, "website", &i.website);
        if let Some(docs) = &i.api_docs {
            assert_https_url(&i.id, "api_docs", docs);
        }
        if let Some(oauth) = &i.oauth {
            assert_https_url(&i.id, "authorize_url", &oauth.authorize_url);
            assert_https_url(&i.id, "token_url", &oauth.token_url);
        }
    }
}

#[test]
fn auth_details_match_the_auth_type() {
    for e in all() {
        let i = &e.integration;
        let id = &i.id;
        assert_eq!(
            i.oauth.is_some(),
            i.auth_type == AuthType::OAuth2,
            "{id}: oauth details iff oauth2"
        );
        if i.auth_type == AuthType::OAuth2 {
            // The OAuth client secret is ours, not the user's: users type none.
            assert!(
                !i.credential_fields.iter().any(|f| f.secret),
                "{id}: oauth2 asks the user for a secret"
            );
        }
        if matches!(i.auth_type, AuthType::ApiKey | AuthType::Basic) {
            assert!(
                i.credential_fields.iter().any(|f| f.secret),
                "{id}: a credential-based integration needs a secret field"
            );
        }
    }
}

#[test]
fn credential_fields_are_well_formed() {
    let name_re = regex_lite::Regex::new("^[a-z][a-z0-9_]*$").unwrap();
    for e in all() {
        let mut names = HashSet::new();
        for f in &e.integration.credential_fields {
            let id = &e.integration.id;
            assert!(name_re.is_match(&f.name), "{id}: field name {}", f.name);
            assert!(names.insert(&f.name), "{id}: duplicate field {}", f.name);
            assert!(
                !f.label.is_empty() && !f.help.is_empty(),
                "{id}: {} needs label and help",
                f.name
            );
            if let Some(p) = &f.pattern {
                assert!(
                    p.starts_with('^') && p.ends_with('$'),
                    "{id}: {} pattern must be anchored",
                    f.name
                );
                regex_lite::Regex::new(p)
                    .unwrap_or_else(|err| panic!("{id}: {} pattern: {err}", f.name));
            }
        }
    }
}

#[test]
fn catalog_claims_no_more_than_the_code_does() {
    for e in all() {
        let support = providers::support(&e.integration.id);
        assert_eq!(
            e.capabilities.connect, support.connect,
            "{}",
            e.integration.id
        );
        assert_eq!(e.capabilities.sync, support.sync, "{}", e.integration.id);
        assert_eq!(
            e.capabilities.webhooks, support.webhooks,
            "{}",
            e.integration.id
        );
        if e.status == Status::Available {
            assert!(
                support.connect && support.sync,
                "{} is available without working code",
                e.integration.id
            );
        }
        if e.status == Status::Manual {
            assert!(providers::manual_entry_works());
        }
        if e.status == Status::FileUpload {
            assert!(providers::file_upload_works());
        }
    }
}

#[test]
fn data_files_cannot_declare_status_or_capabilities() {
    let entry = serde_json::to_value(&all()[0].integration).unwrap();
    for field in ["status", "capabilities"] {
        let mut forged = entry.clone();
        forged[field] = serde_json::json!("available");
        let parsed = serde_json::from_value::<model::Integration>(forged);
        assert!(parsed.is_err(), "a data file could set `{field}`");
    }
}

#[test]
fn unknown_or_invalid_parameters_name_the_parameter() {
    for (key, value) in [
        ("category", "energy"),
        ("scope", "4"),
        ("per_page", "0"),
        ("status", "live"),
        ("categroy", "cloud"),
    ] {
        let err = ListQuery::parse(&pairs(&[(key, value)])).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(err.to_problem("/", "r").field.as_deref(), Some(key));
    }
}

#[test]
fn filters_combine_with_and_and_repeat_with_or() {
    let q = ListQuery::parse(&pairs(&[
        ("category", "cloud"),
        ("category", "ai_platform"),
        ("scope", "3"),
    ]))
    .unwrap();
    let page = list(catalog(), &ListQuery { per_page: 200, ..q });
    assert!(page.pagination.total > 0);
    for s in &page.data {
        assert!(matches!(s.category, Category::Cloud | Category::AiPlatform));
        assert!(s.scopes.contains(&3));
    }
}

#[test]
fn search_ranks_name_matches_first() {
    let q = ListQuery::parse(&pairs(&[("q", "Octopus")])).unwrap();
    let page = list(catalog(), &q);
    assert_eq!(page.data[0].id, "octopus-energy");
    let q = ListQuery::parse(&pairs(&[("q", "solar inverter")])).unwrap();
    let page = list(catalog(), &q);
    assert!(page.pagination.total >= 3);
    assert!(page.data.iter().all(
        |s| s.category == Category::SolarBattery || s.tags.iter().any(|t| t.contains("solar"))
    ));
}

#[test]
fn search_with_no_match_is_empty_not_an_error() {
    let q = ListQuery::parse(&pairs(&[("q", "zzzz-no-such-provider")])).unwrap();
    let page = list(catalog(), &q);
    assert_eq!(page.pagination.total, 0);
    assert_eq!(page.pagination.total_pages, 0);
}

#[test]
fn pages_partition_the_result_in_a_stable_order() {
    let full = list(
        catalog(),
        &ListQuery::parse(&pairs(&[("per_page", "200")])).unwrap(),
    );
    let mut paged = Vec::new();
    for page in 1..=full.pagination.total.div_ceil(7) {
        let q =
            ListQuery::parse(&pairs(&[("per_page", "7"), ("page", &page.to_string())])).unwrap();
        let p = list(catalog(), &q);
        assert_eq!(p.pagination.total, full.pagination.total);
        paged.extend(p.data.into_iter().map(|s| s.id));
    }
    let all_ids: Vec<_> = full.data.iter().map(|s| s.id).collect();
    assert_eq!(paged, all_ids);
}

#[test]
fn status_filter_uses_derived_status() {
    let q = ListQuery::parse(&pairs(&[("status", "available")])).unwrap();
    let available = list(catalog(), &q).pagination.total;
    let expected = all()
        .iter()
        .filter(|e| e.status == Status::Available)
        .count() as u64;
    assert_eq!(available, expected);
}

#[test]
fn embedded_data_parses() {
    if let Err(e) = Catalog::from_json(DATA) {
        panic!("catalog data does not parse: {e}");
    }
}

#[test]
fn every_syncing_provider_states_what_it_yields_and_the_catalog_shows_that() {
    let catalog = catalog();
    for id in crate::providers::syncing() {
        let entry = catalog
            .get(id)
            .unwrap_or_else(|| panic!("{id} is not in the catalog"));
        let detail = entry.detail();
        let facts = detail
            .syncs
            .unwrap_or_else(|| panic!("{id} syncs without saying what it yields"));
        assert!(!facts.activity_types.is_empty(), "{id}");
        assert_eq!(
            detail.integration.data_types,
            super::capabilities::data_types(facts.activity_types),
            "{id}: the catalog's data types are the code's"
        );
        assert_eq!(detail.integration.granularity, facts.granularity, "{id}");
        assert_eq!(detail.integration.history, facts.history, "{id}");
    }
    assert!(catalog.get("solaredge").unwrap().detail().syncs.is_none());
}
