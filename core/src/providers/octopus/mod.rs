//! Octopus Energy REST API (<https://developer.octopus.energy/rest/>).
//! HTTP Basic with the API key as user name and an empty password.

use serde::Deserialize;
use serde_json::json;

use super::http::{error_message, interpret, HttpRequest, HttpResponse, Probe};
use super::{setting, Provider, Secrets, Settings};

pub mod sync;

pub struct Octopus;

const API_BASE: &str = "https://api.octopus.energy";

#[derive(Deserialize)]
struct Account {
    number: Option<String>,
    #[serde(default)]
    properties: Vec<Property>,
}

#[derive(Deserialize)]
struct Property {
    #[serde(default)]
    electricity_meter_points: Vec<ElectricityPoint>,
    #[serde(default)]
    gas_meter_points: Vec<GasPoint>,
}

#[derive(Deserialize)]
struct ElectricityPoint {
    mpan: String,
    #[serde(default)]
    is_export: bool,
}

#[derive(Deserialize)]
struct GasPoint {
    mprn: String,
}

impl Provider for Octopus {
    fn id(&self) -> &'static str {
        "octopus-energy"
    }

    /// `GET /v1/accounts/{number}/`: the cheapest call that proves both the
    /// key and that the account belongs to it.
    fn probe(&self, secrets: Secrets<'_>, settings: &dyn Settings) -> HttpRequest {
        let base = setting(settings, "OCTOPUS", "API_BASE", API_BASE);
        let account = secrets.field("account_number");
        HttpRequest::get(format!("{base}/v1/accounts/{account}/"))
            .basic(secrets.field("api_key"), "")
    }

    fn sync_source(
        &self,
        secrets: Secrets<'_>,
        settings: &dyn Settings,
        user_settings: &serde_json::Value,
    ) -> Option<Box<dyn crate::sync::engine::Source>> {
        let gas_unit = user_settings["gas_meter_unit"].as_str().unwrap_or("m3");
        Some(Box::new(sync::OctopusSync {
            base: setting(settings, "OCTOPUS", "API_BASE", API_BASE),
            api_key: secrets.field("api_key").to_owned(),
            account: secrets.field("account_number").to_owned(),
            gas_in_m3: !gas_unit.eq_ignore_ascii_case("kwh"),
            calorific_value: user_settings["gas_calorific_value"]
                .as_f64()
                .filter(|v| (30.0..=50.0).contains(v))
                .unwrap_or(sync::DEFAULT_CALORIFIC_VALUE),
        }))
    }

    /// Smart-meter readings arrive the next day.
    fn publishes_every(&self) -> Option<u32> {
        Some(1440)
    }

    fn sync_facts(&self) -> Option<super::SyncFacts> {
        use crate::sync::record::ActivityType;
        Some(super::SyncFacts {
            activity_types: &[ActivityType::ElectricityImport, ActivityType::ElectricityExport, ActivityType::Gas],
            granularity: crate::catalog::model::Granularity::HalfHourly,
            history: "Half-hourly smart-meter readings over the sync horizon (396 days unless the datasource's `sync_horizon_days` says otherwise, at most 10 years), as far back as Octopus holds them",
            per: "meter",
        })
    }

    fn support(&self) -> super::Support {
        super::Support::SYNCS_AND_PUSHES
    }

    fn interpret_probe(&self, resp: &HttpResponse) -> Probe {
        // Octopus answers throttling with a CloudFront 403 HTML page
        // (BottlecapDave/HomeAssistant-OctopusEnergy#1731): not a bad key.
        if resp.status == 403 && error_message(&resp.body).is_none() {
            return Probe::Unavailable("Octopus is throttling requests (HTTP 403)".into());
        }
        if resp.status == 404 {
            return Probe::Rejected(
                "no account with this number is visible to this API key".into(),
            );
        }
        interpret(
            resp,
            |body| match serde_json::from_slice::<Account>(body) {
                Ok(account) => {
                    let points = account.properties.iter().flat_map(|p| {
                        p.electricity_meter_points
                            .iter()
                            .map(|e| json!({"type": if e.is_export {"electricity_export"} else {"electricity"}, "mpan": e.mpan}))
                            .chain(p.gas_meter_points.iter().map(|g| json!({"type": "gas", "mprn": g.mprn})))
                    });
                    Probe::Ok(
                        json!({"account_number": account.number, "meter_points": points.collect::<Vec<_>>()}),
                    )
                }
                Err(e) => Probe::Unavailable(format!("unexpected account response: {e}")),
            },
            error_message,
        )
    }
}
