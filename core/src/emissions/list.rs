//! `GET /api/v1/emissions`: the lines themselves, paginated and filtered,
//! each with the factor it cites, its gases where published and the hashes
//! of the raw provider pages its values were read from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::summary::SummaryQuery;
use crate::error::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub struct LinesQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub datasource_id: Option<String>,
    pub scope: Option<u8>,
    pub category: Option<String>,
    pub method: Option<String>,
    pub page: crate::query::Page,
}

/// A category or method name: lower case letters and underscores.
fn name(k: &str, v: &str) -> Result<String, ApiError> {
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(ApiError::invalid_param(
            k,
            format!("`{k}` is a name such as purchased_electricity or spend_based"),
        ));
    }
    Ok(v.to_owned())
}

impl LinesQuery {
    /// `from`, `to`, `datasource_id` as the summary reads them; `scope` (0
    /// for avoided emissions, 1, 2 or 3), `category`, `method`; `page`,
    /// `per_page` (at most 1,000).
    pub fn parse(pairs: &[(String, String)], now: DateTime<Utc>) -> Result<Self, ApiError> {
        let mut range = Vec::new();
        let mut paging = Vec::new();
        let (mut scope, mut category, mut method) = (None, None, None);
        for (k, v) in pairs {
            match k.as_str() {
                "from" | "to" | "datasource_id" => range.push((k.clone(), v.clone())),
                "page" | "per_page" => paging.push((k.clone(), v.clone())),
                "scope" => {
                    scope = Some(match v.as_str() {
                        "0" => 0,
                        "1" => 1,
                        "2" => 2,
                        "3" => 3,
                        _ => {
                            return Err(ApiError::invalid_param(
                                k,
                                "`scope` must be 1, 2 or 3 (or 0, avoided emissions)",
                            ))
                        }
                    })
                }
                "category" => category = Some(name(k, v)?),
                "method" => method = Some(name(k, v)?),
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        format!(
                            "unknown query parameter `{other}`; expected from, to, datasource_id, scope, category, method, page or per_page"
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
            category,
            method,
            page: crate::query::Page::parse(&paging, 100, 1000)?,
        })
    }
}

/// A comma-separated list from SQL (`group_concat`), as a list.
fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    Ok(s.map(|s| s.split(',').map(str::to_owned).collect())
        .unwrap_or_default())
}

/// One stored line, with the factor it cites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The gases' parts (kg CO2e) where the factor publishes them.
    pub co2_kgco2e: Option<f64>,
    pub ch4_kgco2e: Option<f64>,
    pub n2o_kgco2e: Option<f64>,
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
    /// SHA-256 of each raw provider page (or upload) the day's values were
    /// read from: the chain from figure to bytes.
    #[serde(deserialize_with = "comma_list")]
    pub raw_sha256: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn q(pairs: &[(&str, &str)]) -> Result<LinesQuery, ApiError> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LinesQuery::parse(&pairs, Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap())
    }

    #[test]
    fn lines_are_filtered_by_scope_category_and_method_or_refused_by_name() {
        let got = q(&[
            ("scope", "0"),
            ("category", "business_travel"),
            ("method", "spend_based"),
        ])
        .unwrap();
        assert_eq!(got.scope, Some(0));
        assert_eq!(got.category.as_deref(), Some("business_travel"));
        assert_eq!(got.method.as_deref(), Some("spend_based"));
        for bad in [
            ("scope", "4"),
            ("category", "Robert'); DROP"),
            ("method", ""),
            ("colour", "red"),
        ] {
            assert_eq!(q(&[bad]).unwrap_err().status(), 400, "{bad:?}");
        }
    }
}
