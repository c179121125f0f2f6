//! `GET /api/v1/activity`: what a user's sources have delivered, raw or
//! summed by day or month in UTC or UK time. Parsing and the calendar
//! arithmetic live here; storage runs the query.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::datasources::parse_timestamp;
use crate::error::ApiError;
use crate::query::Page;
use crate::sync::{london, ActivityType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Raw,
    Day,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    London,
}

impl Zone {
    pub fn name(self) -> &'static str {
        match self {
            Zone::Utc => "UTC",
            Zone::London => "Europe/London",
        }
    }
}

/// The widest window one request sums over.
const MAX_SPAN_DAYS: i64 = 5 * 366;
/// The default window: the sync horizon (13 months) and a little.
const DEFAULT_SPAN_DAYS: i64 = 400;

#[derive(Debug, Clone, PartialEq)]
pub struct ActivityQuery {
    pub datasource_id: Option<String>,
    pub activity_type: Option<ActivityType>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub zone: Zone,
    pub page: Page,
}

/// A time, or a date read as midnight in the query's zone (a UK day starts
/// at 23:00 UTC in summer).
/// `from` before `to`, at most `max_days` apart: else a 400 naming `from`.
pub fn check_span(from: DateTime<Utc>, to: DateTime<Utc>, max_days: i64) -> Result<(), ApiError> {
    if from >= to {
        return Err(ApiError::invalid_param(
            "from",
            "`from` must be before `to`",
        ));
    }
    if to - from > Duration::days(max_days) {
        return Err(ApiError::invalid_param(
            "from",
            format!("at most {max_days} days per request"),
        ));
    }
    Ok(())
}

pub fn instant(name: &str, v: &str, zone: Zone) -> Result<DateTime<Utc>, ApiError> {
    if let Some(t) = parse_timestamp(v) {
        return Ok(t);
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(|d| match zone {
            Zone::Utc => Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")),
            Zone::London => london::midnight(d),
        })
        .map_err(|_| {
            ApiError::invalid_param(
                name,
                format!("`{name}` must be a date (2026-01-31) or an RFC 3339 time"),
            )
        })
}

impl ActivityQuery {
    pub fn parse(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let mut paging = Vec::new();
        let (mut datasource_id, mut activity_type, mut from, mut to) = (None, None, None, None);
        let (mut granularity, mut zone) = (Granularity::Raw, Zone::Utc);
        for (k, v) in pairs {
            match k.as_str() {
                "datasource_id" => datasource_id = Some(v.clone()),
                "activity_type" => {
                    activity_type = Some(ActivityType::parse(v).ok_or_else(|| {
                        let all: Vec<_> = ActivityType::ALL.iter().map(|t| t.as_str()).collect();
                        ApiError::invalid_param(k, format!("`activity_type` must be one of {}", all.join(", ")))
                    })?)
                }
                "from" => from = Some(v.clone()),
                "to" => to = Some(v.clone()),
                "granularity" => {
                    granularity = match v.as_str() {
                        "raw" => Granularity::Raw,
                        "day" => Granularity::Day,
                        "month" => Granularity::Month,
                        _ => return Err(ApiError::invalid_param(k, "`granularity` must be raw, day or month")),
                    }
                }
                "tz" => {
                    zone = match v.as_str() {
                        "UTC" | "Etc/UTC" => Zone::Utc,
                        "Europe/London" => Zone::London,
                        _ => {
                            return Err(ApiError::invalid_param(
                                k,
                                "`tz` must be UTC or Europe/London (the zones this service carries rules for)",
                            ))
                        }
                    }
                }
                "page" | "per_page" => paging.push((k.clone(), v.clone())),
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        format!(
                            "unknown query parameter `{other}`; expected datasource_id, activity_type, from, to, \
                             granularity, tz, page or per_page"
                        ),
                    ))
                }
            }
        }
        // Dates are read in the zone asked for, whatever the parameters' order.
        let to = to
            .map(|v| instant("to", &v, zone))
            .transpose()?
            .unwrap_or(now);
        let from = from
            .map(|v| instant("from", &v, zone))
            .transpose()?
            .unwrap_or(to - Duration::days(DEFAULT_SPAN_DAYS));
        check_span(from, to, MAX_SPAN_DAYS)?;
        let max_per_page = if granularity == Granularity::Raw {
            1000
        } else {
            400
        };
        Ok(ActivityQuery {
            datasource_id,
            activity_type,
            from,
            to,
            granularity,
            zone,
            page: Page::parse(&paging, 100, max_per_page)?,
        })
    }

    /// UK summer-time spans overlapping the window, as (start, end) unix
    /// seconds: a value starting inside one is an hour ahead in UK time.
    pub fn summer_spans(&self) -> Vec<(i64, i64)> {
        if self.zone == Zone::Utc {
            return Vec::new();
        }
        (self.from.year()..=self.to.year())
            .map(london::bst_bounds)
            .map(|(a, b)| (a.timestamp(), b.timestamp()))
            .collect()
    }
}

/// A bucket label (`2026-03-29` or `2026-03`) as its UTC start and end.
pub fn bucket_bounds(
    label: &str,
    granularity: Granularity,
    zone: Zone,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (first, next) = match granularity {
        Granularity::Raw => return None,
        Granularity::Day => {
            let d = NaiveDate::parse_from_str(label, "%Y-%m-%d").ok()?;
            (d, d.succ_opt()?)
        }
        Granularity::Month => {
            let d = NaiveDate::parse_from_str(&format!("{label}-01"), "%Y-%m-%d").ok()?;
            let next = if d.month() == 12 {
                NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)?
            };
            (d, next)
        }
    };
    let at = |d: NaiveDate| match zone {
        Zone::Utc => Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")),
        Zone::London => london::midnight(d),
    };
    Some((at(first), at(next)))
}

/// One summed bucket, as storage reads it and the API shows it (storage
/// leaves the bounds empty; [`bucket_bounds`] fills them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bucket {
    pub period: String,
    #[serde(default)]
    pub period_start: String,
    #[serde(default)]
    pub period_end: String,
    pub datasource_id: String,
    pub activity_type: String,
    pub detail: String,
    pub unit: String,
    pub quantity: f64,
    pub records: i64,
    pub estimated_records: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasources::timestamp;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn q(s: &str) -> Result<ActivityQuery, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(s).unwrap();
        ActivityQuery::parse(&pairs, "2026-11-30T12:00:00Z".parse().unwrap())
    }

    #[test]
    fn defaults_and_errors() {
        let d = q("").unwrap();
        assert_eq!(d.granularity, Granularity::Raw);
        assert_eq!((d.to - d.from).num_days(), DEFAULT_SPAN_DAYS);
        assert_eq!(q("granularity=week").unwrap_err().status(), 400);
        assert_eq!(q("tz=America/New_York").unwrap_err().status(), 400);
        assert_eq!(
            q("from=2026-02-01&to=2026-01-01").unwrap_err().status(),
            400
        );
        assert_eq!(
            q("from=2010-01-01&to=2026-01-01").unwrap_err().status(),
            400
        );
        assert_eq!(q("activity_type=coal").unwrap_err().status(), 400);
        assert_eq!(q("colour=red").unwrap_err().status(), 400);
        assert_eq!(
            q("granularity=day&per_page=400").unwrap().page.per_page,
            400
        );
    }

    #[test]
    fn uk_days_and_months_know_their_length() {
        let (a, b) = bucket_bounds("2026-03-29", Granularity::Day, Zone::London).unwrap();
        assert_eq!((b - a).num_hours(), 23, "the spring day is 23 hours");
        let (a, b) = bucket_bounds("2026-10-25", Granularity::Day, Zone::London).unwrap();
        assert_eq!((b - a).num_hours(), 25, "the autumn day is 25 hours");
        assert_eq!(timestamp(a), "2026-10-24T23:00:00Z");
        let (a, b) = bucket_bounds("2026-12", Granularity::Month, Zone::Utc).unwrap();
        assert_eq!(
            (timestamp(a), timestamp(b)),
            ("2026-12-01T00:00:00Z".into(), "2027-01-01T00:00:00Z".into())
        );
        let spans = q("tz=Europe/London&from=2025-06-01&to=2026-06-01")
            .unwrap()
            .summer_spans();
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[1].0, utc("2026-03-29T01:00:00Z").timestamp());
    }
}
