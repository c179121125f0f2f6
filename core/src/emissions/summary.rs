//! `GET /api/v1/emissions/summary`: totals per scope, with both Scope 2
//! methods side by side, grouped by month, scope, category or datasource.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::activity::{check_span, instant, Zone};
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Month,
    Scope,
    Category,
    Datasource,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Month => "month",
            GroupBy::Scope => "scope",
            GroupBy::Category => "category",
            GroupBy::Datasource => "datasource",
        }
    }
}

/// Which Scope 2 method the `total` column counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Location,
    Market,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SummaryQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: GroupBy,
    pub method: Method,
    pub datasource_id: Option<String>,
}

/// At most this many days per request (ten reporting years).
pub const MAX_SPAN_DAYS: i64 = 3_700;

impl SummaryQuery {
    /// `from`, `to` (dates are UTC days; default: the last 365 days),
    /// `group_by` (default `scope`), `method` (default `location`),
    /// `datasource_id`.
    pub fn parse(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let (mut from, mut to, mut datasource_id) = (None, None, None);
        let (mut group_by, mut method) = (GroupBy::Scope, Method::Location);
        for (k, v) in pairs {
            match k.as_str() {
                "from" => from = Some(instant(k, v, Zone::Utc)?),
                "to" => to = Some(instant(k, v, Zone::Utc)?),
                "datasource_id" => datasource_id = Some(v.clone()),
                "group_by" => {
                    group_by = match v.as_str() {
                        "month" => GroupBy::Month,
                        "scope" => GroupBy::Scope,
                        "category" => GroupBy::Category,
                        "datasource" => GroupBy::Datasource,
                        _ => {
                            return Err(ApiError::invalid_param(
                                k,
                                "`group_by` must be month, scope, category or datasource",
                            ))
                        }
                    }
                }
                "method" => {
                    method = match v.as_str() {
                        "location" => Method::Location,
                        "market" => Method::Market,
                        _ => return Err(ApiError::invalid_param(k, "`method` must be location or market")),
                    }
                }
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        format!("unknown query parameter `{other}`; expected from, to, group_by, method or datasource_id"),
                    ))
                }
            }
        }
        let to = to.unwrap_or(now);
        let from = from.unwrap_or(to - Duration::days(365));
        check_span(from, to, MAX_SPAN_DAYS)?;
        Ok(SummaryQuery {
            from,
            to,
            group_by,
            method,
            datasource_id,
        })
    }
}

/// One group's totals, kg CO2e.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Totals {
    pub group: String,
    pub scope_1: f64,
    pub scope_2_location: f64,
    pub scope_2_market: f64,
    pub scope_3: f64,
    /// Scope 1 + Scope 2 (the method asked for) + Scope 3.
    #[serde(default)]
    pub total: f64,
    /// Emissions avoided (solar generation displacing grid electricity):
    /// reported apart, never netted against the total.
    pub avoided: f64,
    /// The spend-based and estimated parts of `scope_3` (the least precise
    /// methods), so a report can say how much rests on them.
    pub scope_3_spend_based: f64,
    pub scope_3_estimated: f64,
    pub lines: i64,
}

impl Totals {
    pub fn with_total(mut self, method: Method) -> Self {
        let s2 = match method {
            Method::Location => self.scope_2_location,
            Method::Market => self.scope_2_market,
        };
        self.total = self.scope_1 + s2 + self.scope_3;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_summary_query_is_read_or_refused_with_the_parameter_named() {
        let now = DateTime::parse_from_rfc3339("2026-11-30T00:00:00Z")
            .unwrap()
            .to_utc();
        let q = SummaryQuery::parse(
            &pairs(&[
                ("from", "2025-01-01"),
                ("to", "2026-01-01"),
                ("group_by", "month"),
                ("method", "market"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!((q.group_by, q.method), (GroupBy::Month, Method::Market));
        assert_eq!(q.to - q.from, Duration::days(365));
        for bad in [
            ("group_by", "week"),
            ("method", "both"),
            ("colour", "red"),
            ("from", "2027-01-01"),
        ] {
            let err = SummaryQuery::parse(&pairs(&[bad]), now).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}");
        }
    }
}

/// `GET /api/v1/emissions`: the lines themselves, paginated.
#[derive(Debug, Clone, PartialEq)]
pub struct LinesQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub datasource_id: Option<String>,
    pub scope: Option<u8>,
    pub page: crate::query::Page,
}

impl LinesQuery {
    /// `from`, `to`, `datasource_id` as the summary reads them; `scope`
    /// (1, 2 or 3); `page`, `per_page` (at most 1,000).
    pub fn parse(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let mut range = Vec::new();
        let mut paging = Vec::new();
        let mut scope = None;
        for (k, v) in pairs {
            match k.as_str() {
                "from" | "to" | "datasource_id" => range.push((k.clone(), v.clone())),
                "page" | "per_page" => paging.push((k.clone(), v.clone())),
                "scope" => {
                    scope = Some(match v.as_str() {
                        "1" => 1,
                        "2" => 2,
                        "3" => 3,
                        _ => return Err(ApiError::invalid_param(k, "`scope` must be 1, 2 or 3")),
                    })
                }
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        format!(
                            "unknown query parameter `{other}`; expected from, to, datasource_id, scope, page or per_page"
                        ),
                    ))
                }
            }
        }
        let s = SummaryQuery::parse(&range, now)?;
        Ok(LinesQuery {
            from: s.from,
            to: s.to,
            datasource_id: s.datasource_id,
            scope,
            page: crate::query::Page::parse(&paging, 100, 1000)?,
        })
    }
}

/// One stored line, with the factor it cites.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LineRow {
    pub datasource_id: String,
    /// The series (meter, system, document) its values come from.
    pub reference: String,
    pub activity_type: String,
    pub unit: String,
    /// The UTC day whose values it covers.
    pub day: String,
    pub line: String,
    pub scope: u8,
    pub category: String,
    pub method: String,
    /// The day's values summed, and how many.
    pub quantity: f64,
    pub value_count: i64,
    pub kgco2e: f64,
    pub previous_kgco2e: Option<f64>,
    pub restated_at: Option<String>,
    pub factor_id: String,
    pub factor_ref: String,
    pub edition: String,
    pub edition_choice: String,
    /// kg CO2e per `factor_unit`; for a regional half-hourly line, the
    /// day's effective factor (its figure over its quantity).
    pub factor: f64,
    pub factor_unit: String,
}
