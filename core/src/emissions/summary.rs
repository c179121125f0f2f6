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

/// How figures are rounded for display, and only for display: every line
/// and total is kept and returned at full precision; a shown figure is that
/// total in tonnes to three decimals (the nearest kg), ties to even, so
/// totals are rounded once, never summed after rounding.
pub const DISPLAY_RULE: &str = "tCO2e to 3 decimals (the nearest kg), ties to even, rounding each unrounded total once; never sum rounded figures";

/// One figure as displayed (see [`DISPLAY_RULE`]).
pub fn display_tonnes(kg: f64) -> f64 {
    kg.round_ties_even() / 1000.0
}

impl Totals {
    /// The same totals as displayed, in tonnes.
    pub fn display(&self) -> Totals {
        let d = display_tonnes;
        Totals {
            group: self.group.clone(),
            scope_1: d(self.scope_1),
            scope_2_location: d(self.scope_2_location),
            scope_2_market: d(self.scope_2_market),
            scope_3: d(self.scope_3),
            total: d(self.total),
            avoided: d(self.avoided),
            scope_3_spend_based: d(self.scope_3_spend_based),
            scope_3_estimated: d(self.scope_3_estimated),
            lines: self.lines,
        }
    }

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

    #[test]
    fn display_rounds_each_total_once_to_the_kg_ties_to_even() {
        assert_eq!(display_tonnes(1234.5), 1.234);
        assert_eq!(display_tonnes(1235.5), 1.236);
        assert_eq!(display_tonnes(0.499_999), 0.0);
        // Three lines of 0.4 kg: the total shows 1 kg; rounding each first
        // would show 0.
        let lines = [0.4, 0.4, 0.4];
        assert_eq!(display_tonnes(lines.iter().sum()), 0.001);
        assert_eq!(lines.iter().map(|l| display_tonnes(*l)).sum::<f64>(), 0.0);
    }

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
