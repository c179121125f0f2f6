//! GB regional grid carbon intensity from the NESO Carbon Intensity API
//! (no key; formats in ../shared/PROVIDERS.md), for the regions connected
//! meters are in: stored once per region and half-hour, not per customer.
//!
//! `GET /regional/intensity/{from}/{to}/regionid/{id}` (times
//! `YYYY-MM-DDThh:mmZ`, at most 14 days) answers, in real responses, an
//! object: `{"data": {"regionid": 13, "shortname": "London", "data":
//! [{"from": "2026-05-06T00:00Z", "to": "2026-05-06T00:30Z", "intensity":
//! {"forecast": 160, "index": "moderate"}, "generationmix": [...]}]}}`
//! (the docs show an array; both are read). Regional figures are forecasts
//! only; a period's forecast is revised until it is past, so every refresh
//! re-reads the last day with the next two, and the stored value is
//! replaced (an `actual`, where one is ever given, is kept). A request
//! starting on a half-hour boundary also returns the period ending there:
//! periods before the window are dropped.
//!
//! Each refresh walks every region forward from where it stands, in
//! windows of at most 14 days, within a request budget: a region first seen
//! is backfilled over the sync horizon in a few refreshes.

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::providers::http::{sanitize, HttpRequest, HttpResponse};

pub const API_BASE: &str = "https://api.carbonintensity.org.uk";
/// The API's longest range per request.
pub const MAX_WINDOW: Duration = Duration::days(14);
/// How far back a region first seen is filled (the sync horizon).
pub const BACKFILL: Duration = crate::sync::plan::DEFAULT_HORIZON;
/// Forecasts are published about two days ahead.
pub const AHEAD: Duration = Duration::hours(48);
/// Re-read on every refresh: forecasts for the last day are still revised.
pub const REVISED: Duration = Duration::hours(24);

/// One request of a refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub region: u8,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

fn half_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(30)).unwrap_or(t)
}

/// The requests of one refresh: every region from its cursor (or the
/// backfill start) to two days ahead, at most `budget` in all, regions in
/// turn so none starves.
pub fn plan(
    regions: &[(u8, Option<DateTime<Utc>>)],
    now: DateTime<Utc>,
    budget: usize,
) -> Vec<Window> {
    let end = half_hour(now + AHEAD);
    let mut starts: Vec<(u8, DateTime<Utc>)> = regions
        .iter()
        .map(|(r, cursor)| (*r, half_hour(cursor.unwrap_or(now - BACKFILL))))
        .collect();
    let mut out = Vec::new();
    loop {
        let mut progressed = false;
        for (region, start) in starts.iter_mut() {
            if out.len() >= budget {
                return out;
            }
            if *start >= end {
                continue;
            }
            let to = (*start + MAX_WINDOW).min(end);
            out.push(Window {
                region: *region,
                from: *start,
                to,
            });
            *start = to;
            progressed = true;
        }
        if !progressed {
            return out;
        }
    }
}

/// Where a region stands after a successful window: the revised day is
/// read again next time.
pub fn next_cursor(window_end: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    window_end.min(half_hour(now - REVISED))
}

pub fn request(base: &str, w: &Window) -> HttpRequest {
    let f = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%MZ").to_string();
    HttpRequest::get(format!(
        "{base}/regional/intensity/{}/{}/regionid/{}",
        f(w.from),
        f(w.to),
        w.region
    ))
}

/// One region's intensity over one half-hour.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    #[serde(rename = "r")]
    pub region: u8,
    /// Unix seconds, UTC.
    #[serde(rename = "t")]
    pub start: i64,
    /// gCO2/kWh.
    #[serde(rename = "f")]
    pub forecast: Option<f64>,
    #[serde(rename = "a")]
    pub actual: Option<f64>,
    #[serde(rename = "i")]
    pub index: Option<String>,
}

/// `2026-05-06T00:30Z` (the API's form), or any RFC 3339 time.
fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%MZ")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// The half-hours of a window's answer.
pub fn parse(w: &Window, resp: &HttpResponse) -> Result<Vec<Point>, String> {
    if resp.status != 200 {
        let said = serde_json::from_slice::<Value>(&resp.body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(sanitize))
            .unwrap_or_else(|| format!("HTTP {}", resp.status));
        return Err(format!("Carbon Intensity API: {said}"));
    }
    let body: Value = serde_json::from_slice(&resp.body).map_err(|e| {
        format!(
            "Carbon Intensity API: unreadable answer ({:?})",
            e.classify()
        )
    })?;
    // Real responses: {"data": {..., "data": [...]}}; documented: {"data": [{..., "data": [...]}]}.
    let periods = match &body["data"] {
        Value::Object(o) => o.get("data").cloned(),
        Value::Array(a) => a.first().and_then(|r| r.get("data").cloned()),
        _ => None,
    };
    let periods = periods
        .and_then(|p| p.as_array().cloned())
        .ok_or("Carbon Intensity API: no periods in the answer")?;
    let mut out = Vec::with_capacity(periods.len());
    for p in &periods {
        let (Some(from), Some(to)) = (
            p["from"].as_str().and_then(time),
            p["to"].as_str().and_then(time),
        ) else {
            return Err("Carbon Intensity API: a period without its times".into());
        };
        if from < w.from || from >= w.to || to - from != Duration::minutes(30) {
            continue;
        }
        let value = |v: &Value| v.as_f64().filter(|x| x.is_finite() && *x >= 0.0);
        out.push(Point {
            region: w.region,
            start: from.timestamp(),
            forecast: value(&p["intensity"]["forecast"]),
            actual: value(&p["intensity"]["actual"]),
            index: p["intensity"]["index"].as_str().map(str::to_owned),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_new_region_is_backfilled_in_fourteen_day_windows_within_the_budget() {
        let now = utc("2026-11-30T10:17:00Z");
        let first = plan(
            &[(12, None), (13, Some(utc("2026-11-29T10:00:00Z")))],
            now,
            10,
        );
        assert_eq!(first.len(), 10);
        assert_eq!(
            first[0],
            Window {
                region: 12,
                from: utc("2025-10-30T10:00:00Z"),
                to: utc("2025-11-13T10:00:00Z")
            }
        );
        // Region 13 is up to date: one window, to two days ahead.
        assert_eq!(
            first[1],
            Window {
                region: 13,
                from: utc("2026-11-29T10:00:00Z"),
                to: utc("2026-12-02T10:00:00Z")
            }
        );
        assert!(first[2..].iter().all(|w| w.region == 12));
        let whole = plan(&[(12, None)], now, 100);
        assert_eq!(whole.len(), 29, "397 days + 2 ahead in 14-day windows");
        assert_eq!(whole.last().unwrap().to, utc("2026-12-02T10:00:00Z"));
        assert_eq!(
            next_cursor(whole.last().unwrap().to, now),
            utc("2026-11-29T10:00:00Z")
        );
    }

    #[test]
    fn real_and_documented_answers_are_read_and_the_boundary_period_dropped() {
        let w = Window {
            region: 13,
            from: utc("2026-05-06T00:00:00Z"),
            to: utc("2026-05-06T01:00:00Z"),
        };
        let real = br#"{"data":{"regionid":13,"dnoregion":"UKPN London","shortname":"London","data":[
            {"from":"2026-05-05T23:30Z","to":"2026-05-06T00:00Z","intensity":{"forecast":150,"index":"moderate"},"generationmix":[]},
            {"from":"2026-05-06T00:00Z","to":"2026-05-06T00:30Z","intensity":{"forecast":160,"index":"moderate"},"generationmix":[{"fuel":"gas","perc":40.0}]},
            {"from":"2026-05-06T00:30Z","to":"2026-05-06T01:00Z","intensity":{"forecast":158,"actual":151,"index":"moderate"},"generationmix":[]}]}}"#;
        let points = parse(&w, &HttpResponse::new(200, real.to_vec())).unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].start, utc("2026-05-06T00:00:00Z").timestamp());
        assert_eq!(
            (points[1].forecast, points[1].actual),
            (Some(158.0), Some(151.0))
        );
        let documented = br#"{"data":[{"regionid":13,"data":[{"from":"2026-05-06T00:00Z","to":"2026-05-06T00:30Z","intensity":{"forecast":160,"index":"moderate"}}]}]}"#;
        assert_eq!(
            parse(&w, &HttpResponse::new(200, documented.to_vec()))
                .unwrap()
                .len(),
            1
        );
        let error =
            br#"{"error":{"code":"400 Bad Request","message":"Please enter a valid date"}}"#;
        assert!(parse(&w, &HttpResponse::new(400, error.to_vec()))
            .unwrap_err()
            .contains("valid date"));
    }
}
