//! Enphase Enlighten Systems API v4 (<https://developer-v4.enphase.com>).
//! Quirk: the token request carries the grant in the query string with HTTP
//! Basic client auth and no body. Access tokens last a day, refresh tokens a
//! month and rotate on every refresh. API calls also need the app's API key.

use chrono::Duration;
use serde::Deserialize;
use serde_json::json;

use super::http::{error_message, interpret, HttpRequest, HttpResponse, Probe};
use super::oauth_client::{OAuthSpec, TokenStyle};
use super::{setting, Provider, Secrets, Settings};
use crate::budget::Limit;

pub mod sync;
mod telemetry;

/// The Watt plan's limits (10 calls a minute, 1,000 a month) unless
/// `ENPHASE_RATE_LIMITS` says the app's plan (`"50/60"` for Kilowatt...).
const DEFAULT_LIMITS: &str = "10/60,1000/2592000";

pub struct Enphase;

const API_BASE: &str = "https://api.enphaseenergy.com";

static OAUTH: OAuthSpec = OAuthSpec {
    prefix: "ENPHASE",
    authorize_url: "https://api.enphaseenergy.com/oauth/authorize",
    token_url: "https://api.enphaseenergy.com/oauth/token",
    revocation_url: None,
    scopes: &[],
    pkce: false,
    token_style: TokenStyle::QueryBasic,
    refresh_margin: Duration::minutes(15),
};

#[derive(Deserialize)]
struct Systems {
    #[serde(default)]
    systems: Vec<System>,
}

#[derive(Deserialize)]
struct System {
    system_id: u64,
    name: Option<String>,
}

impl Provider for Enphase {
    fn id(&self) -> &'static str {
        "enphase"
    }

    fn oauth(&self) -> Option<&OAuthSpec> {
        Some(&OAUTH)
    }

    /// `GET /api/v4/systems`: lists the systems the grant covers.
    fn probe(&self, secrets: Secrets<'_>, settings: &dyn Settings) -> HttpRequest {
        let base = setting(settings, "ENPHASE", "API_BASE", API_BASE);
        let key = settings.get("ENPHASE_API_KEY").unwrap_or_default();
        let query = serde_urlencoded::to_string([("key", key.as_str())]).unwrap_or_default();
        HttpRequest::get(format!("{base}/api/v4/systems?{query}")).bearer(secrets.access_token())
    }

    /// Daily production per system (`sync`), within the app's shared budget.
    fn sync_source(
        &self,
        secrets: Secrets<'_>,
        settings: &dyn Settings,
        _user_settings: &serde_json::Value,
    ) -> Option<Box<dyn crate::sync::engine::Source>> {
        Some(Box::new(sync::EnphaseSync {
            base: setting(settings, "ENPHASE", "API_BASE", API_BASE),
            api_key: settings.get("ENPHASE_API_KEY").unwrap_or_default(),
            access_token: secrets.access_token().to_owned(),
        }))
    }

    fn app_limits(&self, settings: &dyn Settings) -> Vec<Limit> {
        let configured = settings.get("ENPHASE_RATE_LIMITS");
        Limit::parse_list(configured.as_deref().unwrap_or(DEFAULT_LIMITS))
    }

    /// Daily production is final once the day is over.
    fn publishes_every(&self) -> Option<u32> {
        Some(1440)
    }

    fn sync_facts(&self) -> Option<super::SyncFacts> {
        use crate::sync::record::ActivityType;
        Some(super::SyncFacts {
            activity_types: &[ActivityType::SolarGeneration, ActivityType::ElectricityConsumption, ActivityType::ElectricityImport, ActivityType::ElectricityExport],
            granularity: crate::catalog::model::Granularity::FifteenMinute,
            history: "Daily production over the sync horizon (396 days unless the datasource's `sync_horizon_days` says otherwise, at most 10 years); consumption, import and export in 15-minute intervals where the system has a consumption meter, within Enphase's two years",
            per: "system (and its meters)",
        })
    }

    fn support(&self) -> super::Support {
        super::Support::SYNCS
    }

    fn interpret_probe(&self, resp: &HttpResponse) -> Probe {
        interpret(
            resp,
            |body| match serde_json::from_slice::<Systems>(body) {
                Ok(s) => Probe::Ok(json!({
                    "systems": s.systems.iter().map(|x| json!({"system_id": x.system_id, "name": x.name})).collect::<Vec<_>>()
                })),
                Err(e) => Probe::Unavailable(format!("unexpected systems response: {e}")),
            },
            error_message,
        )
    }
}
