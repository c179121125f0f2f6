//! Xero (<https://developer.xero.com/documentation/guides/oauth2/auth-flow>).
//! Authorization code with PKCE; the token request is a form body with HTTP
//! Basic client auth. Access tokens last 30 minutes; refresh tokens are
//! single-use and rotate (a 30-minute grace covers a lost response). After
//! the grant, `GET /connections` says which organisations (tenants) it covers.

use chrono::Duration;
use serde::Deserialize;
use serde_json::json;

use super::http::{error_message, interpret, HttpRequest, HttpResponse, Probe};
use super::oauth_client::{OAuthSpec, TokenStyle};
use super::{setting, Provider, Secrets, Settings};
use crate::budget::Limit;
use crate::oauth::TokenSet;

pub mod sync;

pub struct Xero;

/// Xero's published limits: per organisation 60 calls a minute and 5,000
/// a day (`XERO_TENANT_RATE_LIMITS`), per app 10,000 a minute
/// (`XERO_RATE_LIMITS`). Windows are fixed (a UTC day for the daily one):
/// Xero's own counting is not documented, and a 429 corrects either way.
const TENANT_LIMITS: &str = "60/60,5000/86400";
const APP_LIMITS: &str = "10000/60";

const API_BASE: &str = "https://api.xero.com";

static OAUTH: OAuthSpec = OAuthSpec {
    prefix: "XERO",
    authorize_url: "https://login.xero.com/identity/connect/authorize",
    token_url: "https://identity.xero.com/connect/token",
    revocation_url: Some("https://identity.xero.com/connect/revocation"),
    // Read-only, granular scopes (apps created since March 2026 get only
    // these; `accounting.transactions` is deprecated): bank transactions and
    // bills for spend, settings for the chart of accounts. No identity scopes:
    // the id_token is never used. `offline_access` brings the refresh token.
    scopes: &[
        "offline_access",
        "accounting.banktransactions.read",
        "accounting.invoices.read",
        "accounting.settings.read",
    ],
    pkce: true,
    token_style: TokenStyle::FormBodyBasic,
    // 30-minute tokens: refreshing 15 minutes early would halve their life,
    // 5 minutes is enough to finish any one call.
    refresh_margin: Duration::minutes(5),
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    tenant_id: String,
    tenant_name: Option<String>,
    tenant_type: Option<String>,
}

impl Provider for Xero {
    fn id(&self) -> &'static str {
        "xero"
    }

    fn oauth(&self) -> Option<&OAuthSpec> {
        Some(&OAUTH)
    }

    fn probe(&self, secrets: Secrets<'_>, settings: &dyn Settings) -> HttpRequest {
        let base = setting(settings, "XERO", "API_BASE", API_BASE);
        HttpRequest::get(format!("{base}/connections")).bearer(secrets.access_token())
    }

    fn interpret_probe(&self, resp: &HttpResponse) -> Probe {
        interpret(
            resp,
            |body| match serde_json::from_slice::<Vec<Connection>>(body) {
                Ok(list) if list.is_empty() => {
                    Probe::Rejected("the grant covers no Xero organisation".into())
                }
                Ok(list) => Probe::Ok(json!({
                    "tenants": list.iter().map(|c| json!({"tenant_id": c.tenant_id, "name": c.tenant_name, "type": c.tenant_type})).collect::<Vec<_>>()
                })),
                Err(e) => Probe::Unavailable(format!("unexpected connections response: {e}")),
            },
            error_message,
        )
    }

    /// Spend from bank transactions and bills, per organisation.
    fn sync_source(
        &self,
        secrets: Secrets<'_>,
        settings: &dyn Settings,
        _user_settings: &serde_json::Value,
    ) -> Option<Box<dyn crate::sync::engine::Source>> {
        Some(Box::new(sync::XeroSync {
            base: setting(settings, "XERO", "API_BASE", API_BASE),
            access_token: secrets.access_token().to_owned(),
        }))
    }

    fn sync_facts(&self) -> Option<super::SyncFacts> {
        use crate::sync::record::ActivityType;
        Some(super::SyncFacts {
            activity_types: &[ActivityType::Spend],
            granularity: crate::catalog::model::Granularity::Daily,
            history: "Bank spend and bills changed within the sync horizon (396 days unless the datasource's `sync_horizon_days` says otherwise, at most 10 years), by document date",
            per: "organisation",
        })
    }

    fn support(&self) -> super::Support {
        super::Support::SYNCS_AND_PUSHES
    }

    fn app_limits(&self, settings: &dyn Settings) -> Vec<Limit> {
        Limit::parse_list(
            settings
                .get("XERO_RATE_LIMITS")
                .as_deref()
                .unwrap_or(APP_LIMITS),
        )
    }

    /// Each organisation's budget, shared by every connection that reaches
    /// it; a slice takes its calls from all of the grant's (it cannot know
    /// beforehand which one they go to: conservative, never over). A grant
    /// of more than two organisations draws from one budget for the set
    /// (each budget costs the slice two Durable Object calls), and one
    /// whose organisations are not known yet from its own.
    fn tenant_budgets(
        &self,
        provider_info: &serde_json::Value,
        connection_id: &str,
        settings: &dyn Settings,
    ) -> Vec<(String, Vec<Limit>)> {
        let mut ids: Vec<&str> = provider_info["tenants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["tenant_id"].as_str())
            .collect();
        ids.sort_unstable();
        let limits = settings.get("XERO_TENANT_RATE_LIMITS");
        let limits = Limit::parse_list(limits.as_deref().unwrap_or(TENANT_LIMITS));
        match ids.len() {
            0 => vec![(format!("xero/connection/{connection_id}"), limits)],
            1 | 2 => ids
                .iter()
                .map(|id| (format!("xero/{id}"), limits.clone()))
                .collect(),
            _ => vec![(format!("xero/{}", ids.join(",")), limits)],
        }
    }

    /// Revoking the refresh token removes every connection of the grant.
    fn revoke(&self, tokens: &TokenSet, settings: &dyn Settings) -> Option<HttpRequest> {
        let url = OAUTH.revocation_endpoint(settings)?;
        let client = OAUTH.client(settings).ok()?;
        let token = tokens.refresh_token.as_deref()?;
        Some(HttpRequest::post_form(url, &[("token", token)]).basic(&client.id, &client.secret))
    }
}
