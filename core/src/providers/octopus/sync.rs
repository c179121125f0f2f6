//! Syncing Octopus Energy: discovery of every meter on the account, the
//! grid supply point of each electricity meter, then half-hourly
//! consumption per meter.
//!
//! - `GET /v1/accounts/{number}/`: properties, electricity meter points
//!   (`mpan`, `meters[].serial_number`, `agreements[]` with tariff codes and
//!   validity, `is_export`) and gas meter points (`mprn`, meters, agreements).
//! - `GET /v1/electricity-meter-points/{mpan}/`: `{"gsp": "_H", ...}`.
//! - `GET /v1/{electricity|gas}-meter-points/{id}/meters/{serial}/consumption/`
//!   with `period_from` (inclusive), `period_to` (exclusive), `page_size`
//!   (at most 25,000) and `order_by=period`; answers
//!   `{"count", "next", "previous", "results": [{"consumption",
//!   "interval_start", "interval_end"}]}`. Datetimes carry offsets; naive
//!   ones are Europe/London.
//!
//! Pages are re-anchored rather than followed: when `next` is set, the next
//! request starts at the end of the last interval received (with
//! `order_by=period` everything before it is in hand). Every request is then
//! derived from stored state alone, and no URL the provider sent is ever
//! fetched (a `next` pointing elsewhere would carry the API key with it).
//!
//! Gas: SMETS1 meters report kWh, SMETS2 meters m3, and nothing in the
//! payload says which. The datasource setting `gas_meter_unit` (`m3` or
//! `kWh`) decides; it defaults to `m3` because SMETS2 is what is installed
//! and what SMETS1 meters are migrated to. m3 become kWh by the GB
//! convention (Gas (Calculation of Thermal Energy) Regulations): volume x
//! 1.02264 (correction to standard temperature and pressure) x calorific
//! value (MJ/m3) / 3.6; the calorific value defaults to 39.5 MJ/m3 and can
//! be set (`gas_calorific_value`). Each converted record keeps the rule and
//! both constants.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::providers::http::{error_message, sanitize, HttpRequest, HttpResponse};
use crate::sync::engine::{Discovered, DiscoveryStep, Page, PageError, Source};
use crate::sync::london;
use crate::sync::record::{ActivityRecord, ActivityType};

/// Octopus's documented maximum page size.
pub const PAGE_SIZE: u32 = 25_000;
/// Correction of metered gas volume to standard conditions.
pub const VOLUME_CORRECTION: f64 = 1.02264;
/// The calorific value used when none is configured (MJ/m3).
pub const DEFAULT_CALORIFIC_VALUE: f64 = 39.5;

/// Everything a sync needs: where, as whom, and the account's gas rule.
pub struct OctopusSync {
    pub base: String,
    pub api_key: String,
    pub account: String,
    /// `true`: gas arrives in m3 (SMETS2) and is converted.
    pub gas_in_m3: bool,
    pub calorific_value: f64,
}

/// NESO Carbon Intensity region id for a grid supply point group
/// (../shared/PROVIDERS.md: paired by licence area; derived, not published
/// by NESO as one table).
pub fn region_for_gsp(gsp: &str) -> Option<u8> {
    Some(match gsp.trim_start_matches('_') {
        "P" => 1,
        "N" => 2,
        "G" => 3,
        "F" => 4,
        "M" => 5,
        "D" => 6,
        "K" => 7,
        "E" => 8,
        "B" => 9,
        "A" => 10,
        "L" => 11,
        "H" => 12,
        "C" => 13,
        "J" => 14,
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Account {
    #[serde(default)]
    properties: Vec<Property>,
}

#[derive(Deserialize)]
struct Property {
    #[serde(default)]
    electricity_meter_points: Vec<MeterPoint>,
    #[serde(default)]
    gas_meter_points: Vec<MeterPoint>,
}

#[derive(Deserialize)]
struct MeterPoint {
    mpan: Option<String>,
    mprn: Option<String>,
    #[serde(default)]
    meters: Vec<Meter>,
    #[serde(default)]
    agreements: Vec<Value>,
    #[serde(default)]
    is_export: bool,
}

#[derive(Deserialize)]
struct Meter {
    serial_number: String,
}

#[derive(Deserialize)]
struct ElectricityPointDetail {
    gsp: Option<String>,
}

#[derive(Deserialize)]
struct ConsumptionPage {
    next: Option<String>,
    #[serde(default)]
    results: Vec<Interval>,
}

#[derive(Deserialize)]
struct Interval {
    consumption: f64,
    interval_start: String,
    interval_end: String,
}

fn fail(resp: &HttpResponse) -> PageError {
    let said = error_message(&resp.body)
        .map(|m| sanitize(&m))
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    match resp.status {
        429 => PageError::RateLimited {
            retry_after: resp
                .retry_after_secs()
                .map(|s| chrono::Duration::seconds(s as i64)),
        },
        // Octopus throttles with a CloudFront 403 HTML page, not a JSON error.
        403 if error_message(&resp.body).is_none() => PageError::RateLimited { retry_after: None },
        401 | 403 => PageError::Unauthorized(said),
        400 | 404 => PageError::Rejected(said),
        _ => PageError::Transient(said),
    }
}

/// An Octopus datetime: RFC 3339 with its offset, or naive Europe/London.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()?;
    Some(london::to_utc(naive))
}

fn utc_param(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The tariff whose agreement covers `at`.
fn tariff_at(agreements: &Value, at: DateTime<Utc>) -> Option<String> {
    agreements.as_array()?.iter().find_map(|a| {
        let from = a["valid_from"].as_str().and_then(parse_time);
        let to = a["valid_to"].as_str().and_then(parse_time);
        let covers = from.is_none_or(|f| f <= at) && to.is_none_or(|t| at < t);
        covers
            .then(|| a["tariff_code"].as_str().map(str::to_owned))
            .flatten()
    })
}

impl OctopusSync {
    fn get(&self, path: &str) -> HttpRequest {
        HttpRequest::get(format!("{}{path}", self.base)).basic(&self.api_key, "")
    }

    fn streams(&self, account: &Account, gsps: &[Option<String>]) -> Vec<Discovered> {
        let mut found = Vec::new();
        let mut electricity = 0;
        for property in &account.properties {
            for point in &property.electricity_meter_points {
                let Some(mpan) = &point.mpan else { continue };
                let gsp = gsps.get(electricity).cloned().flatten();
                electricity += 1;
                for meter in &point.meters {
                    found.push(Discovered {
                        key: format!("electricity:{mpan}:{}", meter.serial_number),
                        spec: json!({
                            "kind": "electricity",
                            "mpan": mpan,
                            "serial": meter.serial_number,
                            "export": point.is_export,
                            "gsp": gsp,
                            "region": gsp.as_deref().and_then(region_for_gsp),
                            "agreements": point.agreements,
                        }),
                    });
                }
            }
            for point in &property.gas_meter_points {
                let Some(mprn) = &point.mprn else { continue };
                for meter in &point.meters {
                    found.push(Discovered {
                        key: format!("gas:{mprn}:{}", meter.serial_number),
                        spec: json!({
                            "kind": "gas",
                            "mprn": mprn,
                            "serial": meter.serial_number,
                            "unit": if self.gas_in_m3 { "m3" } else { "kWh" },
                            "calorific_value": self.calorific_value,
                            "agreements": point.agreements,
                        }),
                    });
                }
            }
        }
        found
    }

    fn record(
        &self,
        stream: &str,
        spec: &Value,
        i: &Interval,
    ) -> Result<ActivityRecord, PageError> {
        let bad = |what: &str| PageError::Transient(format!("unreadable interval {what}"));
        let start = parse_time(&i.interval_start).ok_or_else(|| bad("start"))?;
        let end = parse_time(&i.interval_end).ok_or_else(|| bad("end"))?;
        if end <= start || !i.consumption.is_finite() {
            return Err(bad("period or value"));
        }
        let gas = spec["kind"] == "gas";
        let (activity_type, quantity, conversion) = if gas {
            if spec["unit"] == "m3" {
                let cv = spec["calorific_value"]
                    .as_f64()
                    .unwrap_or(DEFAULT_CALORIFIC_VALUE);
                let kwh = i.consumption * VOLUME_CORRECTION * cv / 3.6;
                let rule = json!({
                    "from_unit": "m3",
                    "from_quantity": i.consumption,
                    "volume_correction": VOLUME_CORRECTION,
                    "calorific_value_mj_per_m3": cv,
                    "rule": "kWh = m3 x volume_correction x calorific_value / 3.6 (gas_meter_unit = m3: SMETS2)",
                });
                (ActivityType::Gas, kwh, Some(rule))
            } else {
                (ActivityType::Gas, i.consumption, None)
            }
        } else if spec["export"] == true {
            (ActivityType::ElectricityExport, i.consumption, None)
        } else {
            (ActivityType::ElectricityImport, i.consumption, None)
        };
        Ok(ActivityRecord {
            stream: stream.to_owned(),
            activity_type,
            detail: String::new(),
            period_start: start,
            period_end: end,
            quantity,
            unit: "kWh".into(),
            estimated: false,
            region: spec["region"].as_u64().map(|r| r.to_string()),
            tariff: tariff_at(&spec["agreements"], start),
            conversion,
        })
    }
}

impl Source for OctopusSync {
    fn discovery(&self, answers: &[HttpResponse]) -> DiscoveryStep {
        let Some(first) = answers.first() else {
            return DiscoveryStep::Fetch(self.get(&format!("/v1/accounts/{}/", self.account)));
        };
        if first.status != 200 {
            return DiscoveryStep::Failed(fail(first));
        }
        let account: Account = match serde_json::from_slice(&first.body) {
            Ok(a) => a,
            Err(e) => {
                return DiscoveryStep::Failed(PageError::Transient(format!(
                    "unexpected account response ({:?} error)",
                    e.classify()
                )))
            }
        };
        let mpans: Vec<&String> = account
            .properties
            .iter()
            .flat_map(|p| &p.electricity_meter_points)
            .filter_map(|p| p.mpan.as_ref())
            .collect();
        let details = &answers[1..];
        if let Some(mpan) = mpans.get(details.len()) {
            return DiscoveryStep::Fetch(
                self.get(&format!("/v1/electricity-meter-points/{mpan}/")),
            );
        }
        let mut gsps = Vec::new();
        for detail in details {
            if detail.status != 200 {
                return DiscoveryStep::Failed(fail(detail));
            }
            let gsp = serde_json::from_slice::<ElectricityPointDetail>(&detail.body)
                .ok()
                .and_then(|d| d.gsp);
            gsps.push(gsp);
        }
        DiscoveryStep::Done(self.streams(&account, &gsps))
    }

    fn page_request(
        &self,
        spec: &Value,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        _token: Option<&str>,
    ) -> HttpRequest {
        let serial = spec["serial"].as_str().unwrap_or_default();
        let path = if spec["kind"] == "gas" {
            let mprn = spec["mprn"].as_str().unwrap_or_default();
            format!("/v1/gas-meter-points/{mprn}/meters/{serial}/consumption/")
        } else {
            let mpan = spec["mpan"].as_str().unwrap_or_default();
            format!("/v1/electricity-meter-points/{mpan}/meters/{serial}/consumption/")
        };
        let query = format!(
            "period_from={}&period_to={}&page_size={PAGE_SIZE}&order_by=period",
            utc_param(from),
            utc_param(to)
        );
        self.get(&format!("{path}?{query}"))
    }

    fn parse_page(
        &self,
        stream: &str,
        spec: &Value,
        window: (DateTime<Utc>, DateTime<Utc>),
        resp: &HttpResponse,
    ) -> Result<Page, PageError> {
        if resp.status != 200 {
            return Err(fail(resp));
        }
        let page: ConsumptionPage = serde_json::from_slice(&resp.body).map_err(|e| {
            PageError::Transient(format!(
                "unexpected consumption response ({:?} error)",
                e.classify()
            ))
        })?;
        let mut records = Vec::with_capacity(page.results.len());
        for interval in &page.results {
            let record = self.record(stream, spec, interval)?;
            // Only what was asked for: a provider answering outside the
            // window must not move data around.
            if record.period_start >= window.0 && record.period_start < window.1 {
                records.push(record);
            }
        }
        let covered_to = match page.next {
            Some(_) => records.iter().map(|r| r.period_end).max().ok_or_else(|| {
                PageError::Transient("a page with `next` but no intervals".into())
            })?,
            None => window.1,
        };
        Ok(Page {
            records,
            covered_to,
            next: None,
        })
    }
}
