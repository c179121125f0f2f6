//! Syncing AI usage and spend from the OpenAI and Anthropic Admin APIs,
//! day by day, per model (formats: ../shared/PROVIDERS.md).
//!
//! OpenAI (Bearer admin key):
//! - `GET /v1/organization/usage/{completions|embeddings}?start_time&end_time`
//!   (unix seconds, end exclusive) `&bucket_width=1d&group_by=model&limit=31`
//!   answers `{"object":"page","data":[{"start_time","end_time","results":
//!   [{"input_tokens","output_tokens","model",...}]}],"has_more","next_page"}`;
//!   `input_tokens` already includes cached input.
//! - `GET /v1/organization/costs?...&group_by=line_item` answers results
//!   `[{"amount":{"value":0.06,"currency":"usd"},"line_item":...}]` (dollars).
//!
//! Anthropic (`x-api-key` admin key, `anthropic-version: 2023-06-01`):
//! - `GET /v1/organizations/usage_report/messages?starting_at&ending_at`
//!   (RFC 3339) `&bucket_width=1d&group_by[]=model&limit=31` answers
//!   `{"data":[{"starting_at","ending_at","results":[{"uncached_input_tokens",
//!   "cache_creation":{"ephemeral_1h_input_tokens","ephemeral_5m_input_tokens"},
//!   "cache_read_input_tokens","output_tokens","model"}]}],"has_more","next_page"}`;
//!   input is the sum of uncached, cache reads and cache writes.
//! - `GET /v1/organizations/cost_report?...&group_by[]=description` answers
//!   results `[{"amount":"123.78912","currency":"USD","description":...}]`,
//!   the amount a decimal string in cents.
//!
//! Buckets are whole UTC days: requests ask for whole days only (today's
//! bucket waits for tomorrow; the 2-day lookback picks up late data). Like
//! Octopus, pages are re-anchored on the last bucket received instead of
//! following `next_page`, so every request derives from stored state.
//! Records: `ai_tokens` per model and day, in `input_tokens` and
//! `output_tokens`; `spend` per line item and day, in the currency.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

use crate::providers::http::{error_message, sanitize, HttpRequest, HttpResponse};
use crate::sync::engine::{Discovered, DiscoveryStep, Page, PageError, Source};
use crate::sync::record::{ActivityRecord, ActivityType};

/// Day buckets per request (both APIs allow 31 for `1d`).
const DAYS_PER_PAGE: u32 = 31;
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    OpenAi,
    Anthropic,
}

pub struct AiUsageSync {
    pub vendor: Vendor,
    pub base: String,
    pub admin_key: String,
}

impl AiUsageSync {
    /// The source for a connection's admin key, at the configured base URL.
    pub fn boxed(vendor: Vendor, base: String, secrets: super::Secrets<'_>) -> Box<dyn Source> {
        Box::new(AiUsageSync {
            vendor,
            base,
            admin_key: secrets.field("admin_key").to_owned(),
        })
    }
}

/// A report stream: usage of one kind, or costs.
fn reports(vendor: Vendor) -> &'static [&'static str] {
    match vendor {
        Vendor::OpenAi => &["completions", "embeddings", "costs"],
        Vendor::Anthropic => &["messages", "costs"],
    }
}

fn fail(resp: &HttpResponse) -> PageError {
    let said = error_message(&resp.body)
        .map(|m| sanitize(&m))
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    match resp.status {
        429 => PageError::RateLimited {
            retry_after: resp.retry_after_secs().map(|s| Duration::seconds(s as i64)),
        },
        401 | 403 => PageError::Unauthorized(said),
        400 | 404 | 422 => PageError::Rejected(said),
        _ => PageError::Transient(said),
    }
}

fn day_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::days(1)).unwrap_or(t)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// (start, end, type, detail, unit): a record's key within a page.
type SumKey = (DateTime<Utc>, DateTime<Utc>, ActivityType, String, String);

/// Sums records with the same key: a page must not carry one key twice.
#[derive(Default)]
struct Sums(BTreeMap<SumKey, f64>);

impl Sums {
    fn add(
        &mut self,
        span: (DateTime<Utc>, DateTime<Utc>),
        t: ActivityType,
        detail: &str,
        unit: &str,
        q: f64,
    ) {
        if q.is_finite() {
            *self
                .0
                .entry((span.0, span.1, t, detail.to_owned(), unit.to_owned()))
                .or_default() += q;
        }
    }
}

impl AiUsageSync {
    fn get(&self, path: &str) -> HttpRequest {
        let url = format!("{}{path}", self.base);
        match self.vendor {
            Vendor::OpenAi => HttpRequest::get(url).bearer(&self.admin_key),
            Vendor::Anthropic => HttpRequest::get(url)
                .header("x-api-key", self.admin_key.clone())
                .header("anthropic-version", ANTHROPIC_VERSION),
        }
    }

    /// One bucket's results into sums; `span` is the bucket's day.
    fn read_results(
        &self,
        report: &str,
        span: (DateTime<Utc>, DateTime<Utc>),
        results: &[Value],
        sums: &mut Sums,
    ) {
        let n = |v: &Value| v.as_f64().unwrap_or(0.0);
        for r in results {
            let model = r["model"].as_str().unwrap_or("all models");
            match (self.vendor, report) {
                (_, "costs") => {
                    let (amount, currency, item) = match self.vendor {
                        Vendor::OpenAi => (
                            n(&r["amount"]["value"]),
                            r["amount"]["currency"].as_str().unwrap_or("usd"),
                            r["line_item"].as_str().unwrap_or("all line items"),
                        ),
                        // A decimal string in cents.
                        Vendor::Anthropic => (
                            r["amount"]
                                .as_str()
                                .and_then(|a| a.parse::<f64>().ok())
                                .unwrap_or(0.0)
                                / 100.0,
                            r["currency"].as_str().unwrap_or("USD"),
                            r["description"].as_str().unwrap_or("all costs"),
                        ),
                    };
                    sums.add(
                        span,
                        ActivityType::Spend,
                        item,
                        &currency.to_ascii_uppercase(),
                        amount,
                    );
                }
                (Vendor::OpenAi, _) => {
                    sums.add(
                        span,
                        ActivityType::AiTokens,
                        model,
                        "input_tokens",
                        n(&r["input_tokens"]),
                    );
                    if report == "completions" {
                        sums.add(
                            span,
                            ActivityType::AiTokens,
                            model,
                            "output_tokens",
                            n(&r["output_tokens"]),
                        );
                    }
                }
                (Vendor::Anthropic, _) => {
                    let writes = n(&r["cache_creation"]["ephemeral_1h_input_tokens"])
                        + n(&r["cache_creation"]["ephemeral_5m_input_tokens"]);
                    let input =
                        n(&r["uncached_input_tokens"]) + n(&r["cache_read_input_tokens"]) + writes;
                    sums.add(span, ActivityType::AiTokens, model, "input_tokens", input);
                    sums.add(
                        span,
                        ActivityType::AiTokens,
                        model,
                        "output_tokens",
                        n(&r["output_tokens"]),
                    );
                }
            }
        }
    }
}

/// What both usage reports yield (OpenAI's and Anthropic's are read alike).
pub const SYNC_FACTS: super::SyncFacts = super::SyncFacts {
    activity_types: &[ActivityType::AiTokens, ActivityType::Spend],
    granularity: crate::catalog::model::Granularity::Daily,
    history: "Daily token usage per model and daily costs over the sync horizon (396 days unless the datasource's `sync_horizon_days` says otherwise, at most 10 years)",
    per: "organisation and model",
};

impl Source for AiUsageSync {
    fn discovery(&self, _answers: &[HttpResponse]) -> DiscoveryStep {
        let prefix = match self.vendor {
            Vendor::OpenAi => "openai",
            Vendor::Anthropic => "anthropic",
        };
        DiscoveryStep::Done(
            reports(self.vendor)
                .iter()
                .map(|r| Discovered {
                    key: format!("{prefix}:{r}"),
                    spec: json!({ "report": r }),
                })
                .collect(),
        )
    }

    fn align(&self, window: (DateTime<Utc>, DateTime<Utc>)) -> (DateTime<Utc>, DateTime<Utc>) {
        (day_floor(window.0), day_floor(window.1))
    }

    fn page_request(
        &self,
        spec: &Value,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        _token: Option<&str>,
    ) -> HttpRequest {
        let report = spec["report"].as_str().unwrap_or_default();
        let path = match (self.vendor, report) {
            (Vendor::OpenAi, "costs") => format!(
                "/v1/organization/costs?start_time={}&end_time={}&bucket_width=1d&group_by=line_item&limit={DAYS_PER_PAGE}",
                from.timestamp(),
                to.timestamp()
            ),
            (Vendor::OpenAi, kind) => format!(
                "/v1/organization/usage/{kind}?start_time={}&end_time={}&bucket_width=1d&group_by=model&limit={DAYS_PER_PAGE}",
                from.timestamp(),
                to.timestamp()
            ),
            (Vendor::Anthropic, "costs") => format!(
                "/v1/organizations/cost_report?starting_at={}&ending_at={}&bucket_width=1d&group_by[]=description&limit={DAYS_PER_PAGE}",
                rfc3339(from),
                rfc3339(to)
            ),
            (Vendor::Anthropic, _) => format!(
                "/v1/organizations/usage_report/messages?starting_at={}&ending_at={}&bucket_width=1d&group_by[]=model&limit={DAYS_PER_PAGE}",
                rfc3339(from),
                rfc3339(to)
            ),
        };
        self.get(&path)
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
        let report = spec["report"].as_str().unwrap_or_default();
        let page: Value = serde_json::from_slice(&resp.body).map_err(|e| {
            PageError::Transient(format!(
                "unexpected usage response ({:?} error)",
                e.classify()
            ))
        })?;
        let buckets = page["data"]
            .as_array()
            .ok_or_else(|| PageError::Transient("a usage response without `data`".into()))?;
        let mut sums = Sums::default();
        let mut last_end = None;
        for bucket in buckets {
            let (start, end) = match self.vendor {
                Vendor::OpenAi => (
                    bucket["start_time"]
                        .as_i64()
                        .and_then(|t| DateTime::from_timestamp(t, 0)),
                    bucket["end_time"]
                        .as_i64()
                        .and_then(|t| DateTime::from_timestamp(t, 0)),
                ),
                Vendor::Anthropic => (
                    bucket["starting_at"].as_str().and_then(|t| t.parse().ok()),
                    bucket["ending_at"].as_str().and_then(|t| t.parse().ok()),
                ),
            };
            let (Some(start), Some(end)) = (start, end) else {
                return Err(PageError::Transient("a bucket without its period".into()));
            };
            if end <= start {
                return Err(PageError::Transient(
                    "a bucket that ends before it starts".into(),
                ));
            }
            last_end = last_end.max(Some(end));
            // Only what was asked for, and only whole days.
            if start < window.0 || start >= window.1 || end > window.1 {
                continue;
            }
            let results = bucket["results"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            self.read_results(report, (start, end), results, &mut sums);
        }
        let covered_to = if page["has_more"] == true {
            last_end.ok_or_else(|| {
                PageError::Transient("a page with `has_more` but no buckets".into())
            })?
        } else {
            window.1
        };
        let records = sums
            .0
            .into_iter()
            .map(
                |((start, end, activity_type, detail, unit), quantity)| ActivityRecord {
                    stream: stream.to_owned(),
                    activity_type,
                    detail,
                    period_start: start,
                    period_end: end,
                    quantity,
                    unit,
                    estimated: false,
                    region: None,
                    tariff: None,
                    conversion: None,
                },
            )
            .collect();
        Ok(Page {
            records,
            covered_to,
            next: None,
        })
    }
}

#[cfg(test)]
#[path = "ai_usage_tests.rs"]
mod tests;
