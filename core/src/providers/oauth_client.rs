//! The client side of the authorization-code grant, with each provider's
//! quirks expressed as data ([`OAuthSpec`]).

use chrono::Duration;

use super::http::HttpRequest;
use super::{setting, Settings};

/// How a provider wants the token request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStyle {
    /// RFC 6749 section 4.1.3: form body, client authenticated with HTTP Basic (Xero).
    FormBodyBasic,
    /// Grant parameters in the query string, empty body, HTTP Basic (Enphase v4).
    QueryBasic,
}

#[derive(Debug)]
pub struct OAuthSpec {
    /// Configuration prefix: `{PREFIX}_CLIENT_ID`, `{PREFIX}_AUTHORIZE_URL`...
    pub prefix: &'static str,
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    pub revocation_url: Option<&'static str>,
    pub scopes: &'static [&'static str],
    pub pkce: bool,
    pub token_style: TokenStyle,
    pub refresh_margin: Duration,
}

/// The OAuth client credentials of one provider.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret: String,
}

impl OAuthSpec {
    /// The configured client, or the name of the first missing setting.
    pub fn client(&self, settings: &dyn Settings) -> Result<Client, String> {
        let get = |name: &str| {
            let key = format!("{}_{name}", self.prefix);
            settings.get(&key).filter(|v| !v.is_empty()).ok_or(key)
        };
        Ok(Client {
            id: get("CLIENT_ID")?,
            secret: get("CLIENT_SECRET")?,
        })
    }

    pub fn authorize_endpoint(&self, settings: &dyn Settings) -> String {
        setting(settings, self.prefix, "AUTHORIZE_URL", self.authorize_url)
    }

    pub fn token_endpoint(&self, settings: &dyn Settings) -> String {
        setting(settings, self.prefix, "TOKEN_URL", self.token_url)
    }

    pub fn revocation_endpoint(&self, settings: &dyn Settings) -> Option<String> {
        self.revocation_url
            .map(|default| setting(settings, self.prefix, "REVOCATION_URL", default))
    }

    /// The URL the user's browser is sent to.
    pub fn authorize_url(
        &self,
        settings: &dyn Settings,
        client: &Client,
        redirect_uri: &str,
        state: &str,
        code_challenge: Option<&str>,
    ) -> String {
        let mut params = vec![
            ("response_type", "code".to_owned()),
            ("client_id", client.id.clone()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("state", state.to_owned()),
        ];
        if !self.scopes.is_empty() {
            params.push(("scope", self.scopes.join(" ")));
        }
        if let Some(challenge) = code_challenge {
            params.push(("code_challenge", challenge.to_owned()));
            params.push(("code_challenge_method", "S256".to_owned()));
        }
        let endpoint = self.authorize_endpoint(settings);
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        format!(
            "{endpoint}{sep}{}",
            serde_urlencoded::to_string(&params).unwrap_or_default()
        )
    }

    /// Exchanges an authorization code (RFC 6749 section 4.1.3).
    pub fn code_request(
        &self,
        settings: &dyn Settings,
        client: &Client,
        code: &str,
        redirect_uri: &str,
        code_verifier: Option<&str>,
    ) -> HttpRequest {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(v) = code_verifier {
            params.push(("code_verifier", v));
        }
        self.token_request(settings, client, &params)
    }

    /// Refreshes (RFC 6749 section 6).
    pub fn refresh_request(
        &self,
        settings: &dyn Settings,
        client: &Client,
        refresh_token: &str,
    ) -> HttpRequest {
        self.token_request(
            settings,
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
    }

    fn token_request(
        &self,
        settings: &dyn Settings,
        client: &Client,
        params: &[(&str, &str)],
    ) -> HttpRequest {
        let endpoint = self.token_endpoint(settings);
        let req = match self.token_style {
            TokenStyle::FormBodyBasic => HttpRequest::post_form(endpoint, params),
            TokenStyle::QueryBasic => HttpRequest {
                method: "POST",
                url: format!(
                    "{endpoint}?{}",
                    serde_urlencoded::to_string(params).unwrap_or_default()
                ),
                headers: vec![("Accept", "application/json".into())],
                body: None,
            },
        };
        req.basic(&client.id, &client.secret)
    }
}
