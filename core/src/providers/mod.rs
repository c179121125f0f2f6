//! Provider implementations, one file each, behind one [`Provider`] trait.
//!
//! This registry is the one place that says what the code can do with an
//! integration: the catalog's capability flags and status are read from here,
//! so they change only when working code does.
//!
//! Providers are sans-I/O: they describe requests and interpret responses
//! (see [`http`]); the Worker performs the calls. Every base URL comes from
//! configuration (`{PREFIX}_API_BASE`, `{PREFIX}_TOKEN_URL`...), defaulting to
//! the real one, so tests point providers at fakes on loopback.

pub mod ai_usage;
mod anthropic;
pub mod enphase;
pub mod http;
pub mod oauth_client;
pub mod octopus;
mod openai;
mod xero;

use std::collections::BTreeMap;

use chrono::Duration;

pub use http::{sanitize, HttpRequest, HttpResponse, Probe};
pub use oauth_client::{OAuthSpec, TokenStyle};

use crate::oauth::TokenSet;

/// What the code supports for one integration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Support {
    pub connect: bool,
    pub sync: bool,
    pub webhooks: bool,
}

impl Support {
    /// Connects and syncs.
    pub const SYNCS: Support = Support {
        connect: true,
        sync: true,
        webhooks: false,
    };
    /// Connects, syncs, and takes the provider's signed pushes
    /// (`/api/v1/webhooks/...`).
    pub const SYNCS_AND_PUSHES: Support = Support {
        connect: true,
        sync: true,
        webhooks: true,
    };
}

/// Read access to configuration (the Worker's env; a map in tests).
pub trait Settings {
    fn get(&self, name: &str) -> Option<String>;
}

impl Settings for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// A setting with the provider's real default.
pub fn setting(settings: &dyn Settings, prefix: &str, name: &str, default: &str) -> String {
    settings
        .get(&format!("{prefix}_{name}"))
        .unwrap_or_else(|| default.to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// What a connection authenticates with, decrypted.
#[derive(Debug, Clone, Copy)]
pub enum Secrets<'a> {
    /// The credential fields the user typed (API keys, account numbers).
    Fields(&'a BTreeMap<String, String>),
    /// OAuth tokens.
    Tokens(&'a TokenSet),
}

impl<'a> Secrets<'a> {
    pub fn field(&self, name: &str) -> &'a str {
        match self {
            Secrets::Fields(f) => f.get(name).map(String::as_str).unwrap_or(""),
            Secrets::Tokens(_) => "",
        }
    }

    pub fn access_token(&self) -> &'a str {
        match self {
            Secrets::Tokens(t) => &t.access_token,
            Secrets::Fields(_) => "",
        }
    }
}

/// What a provider's sync yields, stated by the code that does it: the
/// catalog shows these for every provider that syncs, never the typed data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SyncFacts {
    /// The activity records written, by type.
    pub activity_types: &'static [crate::sync::record::ActivityType],
    /// The finest period of those records.
    pub granularity: crate::catalog::model::Granularity,
    /// How far back a first sync reaches, and what limits it.
    pub history: &'static str,
    /// What one stream of records is (a meter, a system, an organisation).
    pub per: &'static str,
}

pub trait Provider: Sync {
    /// The catalog id this implements.
    fn id(&self) -> &'static str;

    /// OAuth details, for providers connected by OAuth.
    fn oauth(&self) -> Option<&OAuthSpec> {
        None
    }

    /// The cheapest authenticated request: validates new credentials and
    /// checks an existing connection.
    fn probe(&self, secrets: Secrets<'_>, settings: &dyn Settings) -> HttpRequest;

    /// Interprets the probe's response; `Ok` carries account facts to keep.
    fn interpret_probe(&self, resp: &HttpResponse) -> Probe;

    /// Revokes the connection's grant at the provider, where it offers that.
    fn revoke(&self, _tokens: &TokenSet, _settings: &dyn Settings) -> Option<HttpRequest> {
        None
    }

    /// What syncing this provider's data needs (sans-I/O), for a connection
    /// with these secrets and user settings; `None` when it cannot sync.
    fn sync_source(
        &self,
        _secrets: Secrets<'_>,
        _settings: &dyn Settings,
        _user_settings: &serde_json::Value,
    ) -> Option<Box<dyn crate::sync::engine::Source>> {
        None
    }

    /// What syncing yields (`Some` for every provider that syncs).
    fn sync_facts(&self) -> Option<SyncFacts> {
        None
    }

    fn support(&self) -> Support {
        Support {
            connect: true,
            sync: false,
            webhooks: false,
        }
    }

    /// The provider app's call limits, shared by every customer (e.g. an
    /// API plan's calls a minute); empty when the provider limits each
    /// connection instead.
    fn app_limits(&self, _settings: &dyn Settings) -> Vec<crate::budget::Limit> {
        Vec::new()
    }

    /// Limits the provider keeps per tenant (organisation) rather than per
    /// app: the budgets (key, limits) a slice of this connection draws
    /// from, from the tenants its probe found; empty when none apply.
    fn tenant_budgets(
        &self,
        _provider_info: &serde_json::Value,
        _connection_id: &str,
        _settings: &dyn Settings,
    ) -> Vec<(String, Vec<crate::budget::Limit>)> {
        Vec::new()
    }

    /// How often new data appears at the provider, in minutes, when that is
    /// slower than the catalog's granularity says (Octopus publishes
    /// half-hourly readings a day late): the default sync period.
    fn publishes_every(&self) -> Option<u32> {
        None
    }
}

/// A new datasource's default sync period: how often the provider publishes
/// where it says, else the catalog's granularity, within 15 minutes and a
/// day.
pub fn default_sync_minutes(integration: &crate::catalog::model::Integration) -> u32 {
    use crate::catalog::model::Granularity as G;
    let by_granularity = match integration.granularity {
        G::Realtime | G::FiveMinute | G::FifteenMinute => 15,
        G::HalfHourly => 30,
        G::Hourly => 60,
        G::Daily | G::Monthly | G::PerRecord | G::Unknown => 1440,
    };
    provider(&integration.id)
        .and_then(|p| p.publishes_every())
        .unwrap_or(by_granularity)
        .clamp(crate::datasources::MIN_SYNC_MINUTES, 1440)
}

static PROVIDERS: &[&dyn Provider] = &[
    &octopus::Octopus,
    &openai::OpenAi,
    &anthropic::Anthropic,
    &enphase::Enphase,
    &xero::Xero,
];

/// The implementation for a catalog id, if there is one.
pub fn provider(integration_id: &str) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.id() == integration_id)
}

/// Support for the integration with this catalog id.
/// The integrations whose data the scheduler pulls.
pub fn syncing() -> Vec<&'static str> {
    PROVIDERS
        .iter()
        .filter(|p| p.support().sync)
        .map(|p| p.id())
        .collect()
}

pub fn support(integration_id: &str) -> Support {
    provider(integration_id)
        .map(|p| p.support())
        .unwrap_or_default()
}

/// Whether the manual-entry route exists (`POST /datasources/{id}/readings`).
pub fn manual_entry_works() -> bool {
    true
}

/// Whether the CSV/file-upload route exists (`POST /datasources/{id}/uploads`).
pub fn file_upload_works() -> bool {
    true
}

/// Providers whose margin differs from the default refresh margin say so.
pub fn refresh_margin(provider: &dyn Provider) -> Duration {
    provider
        .oauth()
        .map(|o| o.refresh_margin)
        .unwrap_or(crate::oauth::REFRESH_MARGIN)
}

#[cfg(test)]
mod tests;
