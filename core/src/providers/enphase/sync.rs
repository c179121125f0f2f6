//! Syncing Enphase v4 solar production (formats: ../shared/PROVIDERS.md).
//!
//! - `GET /api/v4/systems?key=&page=&size=100` (Bearer): `{"total",
//!   "current_page", "size", "systems": [{"system_id", "name", "timezone",
//!   "status", ...}]}`, paged until `page * size >= total`.
//! - `GET /api/v4/systems/{id}/energy_lifetime?key=&production=all`:
//!   `{"system_id", "start_date": "2013-01-01", "production": [Wh per day,
//!   ...], "meter_production": [...], "meta": {...}}`: daily production
//!   from `start_date` in the system's own time zone. Only the documented
//!   parameters are sent; the window is cut client-side.
//! - 429 `{"message", "details", "code": 429, "period", "period_start",
//!   "period_end", "limit"}`: wait until `period_end`. An overloaded API
//!   answers an HTML "queue full" page: transient.
//!
//! Days are the system's local days. UK systems (`Europe/London`) are
//! stored with their UK midnights; for other zones the Worker carries no
//! rules, so the local day is stored at UTC midnight and the record says
//! so (`conversion.day_boundary`). Today is not stored until it is over.
//! Systems with a consumption meter also get consumption, grid import and
//! export in 15-minute intervals (`telemetry.rs`), a week per call.

use chrono::{DateTime, Duration, DurationRound, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::providers::http::{error_message, sanitize, HttpRequest, HttpResponse};
use crate::sync::engine::{Discovered, DiscoveryStep, Page, PageError, Source};
use crate::sync::london;
use crate::sync::record::ActivityType;

use super::telemetry;

const PAGE_SIZE: u32 = 100;

pub struct EnphaseSync {
    pub base: String,
    pub api_key: String,
    pub access_token: String,
}

fn fail(resp: &HttpResponse) -> PageError {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let said = error_message(&resp.body)
        .or_else(|| body["details"].as_str().map(str::to_owned))
        .map(|m| sanitize(&m))
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    match resp.status {
        429 => match body["period_end"]
            .as_i64()
            .and_then(|t| DateTime::from_timestamp(t, 0))
        {
            Some(until) => PageError::RateLimitedUntil(until),
            None => PageError::RateLimited {
                retry_after: resp.retry_after_secs().map(|s| Duration::seconds(s as i64)),
            },
        },
        401 | 403 => PageError::Unauthorized(said),
        404 | 422 => PageError::Rejected(said),
        _ => PageError::Transient(said),
    }
}

fn day_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

impl EnphaseSync {
    fn get(&self, path: &str, query: &[(&str, &str)]) -> HttpRequest {
        let mut q = vec![("key", self.api_key.as_str())];
        q.extend_from_slice(query);
        let query = serde_urlencoded::to_string(q).unwrap_or_default();
        HttpRequest::get(format!("{}/api/v4{path}?{query}", self.base)).bearer(&self.access_token)
    }

    /// A local day's UTC bounds, and how they were decided.
    fn day(&self, date: NaiveDate, tz: &str) -> Option<(DateTime<Utc>, DateTime<Utc>, bool)> {
        let next = date.succ_opt()?;
        if tz == "Europe/London" {
            return Some((london::midnight(date), london::midnight(next), true));
        }
        let at = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|n| n.and_utc());
        Some((at(date)?, at(next)?, false))
    }
}

impl Source for EnphaseSync {
    /// The systems' pages, then each system's devices (for its meters).
    fn discovery(&self, answers: &[HttpResponse]) -> DiscoveryStep {
        let mut systems = Vec::new();
        let mut pages = 0;
        let mut more = true;
        for resp in answers {
            if !more {
                break;
            }
            if resp.status != 200 {
                return DiscoveryStep::Failed(fail(resp));
            }
            let Ok(page) = serde_json::from_slice::<Value>(&resp.body) else {
                let said = "unreadable systems page";
                return DiscoveryStep::Failed(PageError::Transient(said.into()));
            };
            pages += 1;
            let found = page["systems"].as_array().cloned().unwrap_or_default();
            let total = page["total"].as_u64().unwrap_or(0);
            more = !found.is_empty() && pages < 100;
            systems.extend(found);
            more &= (systems.len() as u64) < total;
        }
        if pages == 0 || more {
            let page = (pages + 1).to_string();
            let size = PAGE_SIZE.to_string();
            return DiscoveryStep::Fetch(self.get("/systems", &[("page", &page), ("size", &size)]));
        }
        systems.retain(|s| s["system_id"].is_u64());
        let devices = &answers[pages..];
        if let Some(s) = systems.get(devices.len()) {
            let id = s["system_id"].as_u64().unwrap_or_default();
            return DiscoveryStep::Fetch(self.get(&format!("/systems/{id}/devices"), &[]));
        }
        let mut found = Vec::new();
        for (s, devices) in systems.iter().zip(devices) {
            if devices.status == 429 {
                return DiscoveryStep::Failed(fail(devices));
            }
            let id = s["system_id"].as_u64().unwrap_or_default();
            let spec = |kind: &str| {
                json!({
                    "kind": kind,
                    "system_id": id,
                    "name": s["name"],
                    "timezone": s["timezone"].as_str().unwrap_or("UTC"),
                })
            };
            found.push(Discovered {
                key: format!("enphase:{id}:production"),
                spec: spec("production"),
            });
            // A system whose devices cannot be read is taken to have no
            // meters this run; its production still syncs.
            let listed: Value = serde_json::from_slice(&devices.body).unwrap_or_default();
            if devices.status == 200 && telemetry::has_consumption_meter(&listed) {
                for (kind, ..) in telemetry::KINDS {
                    found.push(Discovered {
                        key: format!("enphase:{id}:{kind}"),
                        spec: spec(kind),
                    });
                }
            }
        }
        DiscoveryStep::Done(found)
    }

    fn align(&self, window: (DateTime<Utc>, DateTime<Utc>)) -> (DateTime<Utc>, DateTime<Utc>) {
        // Whole days up to yesterday: today's production is still growing
        // (a day still open west of UTC is restated by the next sync).
        (day_floor(window.0), day_floor(window.1))
    }

    fn page_request(
        &self,
        spec: &Value,
        from: DateTime<Utc>,
        _to: DateTime<Utc>,
        _token: Option<&str>,
    ) -> HttpRequest {
        let id = spec["system_id"].as_u64().unwrap_or_default();
        if let Some((_, path, ..)) = telemetry::kind(spec["kind"].as_str().unwrap_or_default()) {
            let start = from.timestamp().to_string();
            let query = [("start_at", start.as_str()), ("granularity", "week")];
            return self.get(&format!("/systems/{id}/{path}"), &query);
        }
        self.get(
            &format!("/systems/{id}/energy_lifetime"),
            &[("production", "all")],
        )
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
        let body: Value = serde_json::from_slice(&resp.body).map_err(|_| {
            PageError::Transient("an answer that is not JSON (the API queue may be full)".into())
        })?;
        let kind = spec["kind"].as_str().unwrap_or("production");
        if kind != "production" {
            return telemetry::parse(stream, kind, &body, window);
        }
        let start = body["start_date"]
            .as_str()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| PageError::Transient("energy_lifetime without its start_date".into()))?;
        let tz = spec["timezone"].as_str().unwrap_or("UTC");
        let days = body["production"].as_array().cloned().unwrap_or_default();
        let mut records = Vec::new();
        for (i, wh) in days.iter().enumerate() {
            let Some(wh) = wh.as_f64().filter(|w| w.is_finite() && *w >= 0.0) else {
                continue;
            };
            let date = start + Duration::days(i as i64);
            let Some((from, to, local)) = self.day(date, tz) else {
                continue;
            };
            // The window in local days: a day belongs to it by its date.
            let utc_date = |t: DateTime<Utc>| t.date_naive();
            if date < utc_date(window.0) || date >= utc_date(window.1) {
                continue;
            }
            let mut record =
                telemetry::wh_record(stream, ActivityType::SolarGeneration, (from, to), wh);
            if let Some(c) = record.conversion.as_mut() {
                c["day_boundary"] = json!(if local {
                    format!("local days of {tz}")
                } else {
                    format!("local days of {tz}, stored at UTC midnight")
                });
            }
            records.push(record);
        }
        Ok(Page {
            records,
            covered_to: window.1,
            next: None,
        })
    }
}
