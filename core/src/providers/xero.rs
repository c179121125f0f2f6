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
use crate::oauth::TokenSet;

pub struct Xero;

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

    /// Revoking the refresh token removes every connection of the grant.
    fn revoke(&self, tokens: &TokenSet, settings: &dyn Settings) -> Option<HttpRequest> {
        let url = OAUTH.revocation_endpoint(settings)?;
        let client = OAUTH.client(settings).ok()?;
        let token = tokens.refresh_token.as_deref()?;
        Some(HttpRequest::post_form(url, &[("token", token)]).basic(&client.id, &client.secret))
    }
}
