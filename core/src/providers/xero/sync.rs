//! Syncing Xero spend (formats: ../shared/PROVIDERS.md, from Xero's
//! accounting OpenAPI and its limits page).
//!
//! - `GET /connections` (Bearer): `[{"tenantId", "tenantName",
//!   "tenantType"}]`: the organisations the grant covers. For each, `GET
//!   /api.xro/2.0/Accounts` (header `xero-tenant-id`) gives the chart of
//!   accounts, kept with the tenant's streams so every line carries its
//!   account's name.
//! - Two streams per tenant: spend from the bank (`/BankTransactions`,
//!   `where=Type=="SPEND"`) and bills (`/Invoices`, `where=Type=="ACCPAY"`),
//!   each asked with `If-Modified-Since` (UTC, to the second) and
//!   `order=UpdatedDateUTC ASC`, 100 rows a `page` with their line items.
//!   A stream is a change feed: its position is the modification time it
//!   reads from, the page number its continuation, and its cursor where the
//!   last run got to (the next run reads changes from two days before).
//! - A line's value is its tax-exclusive amount (`LineAmount`, less
//!   `TaxAmount` when `LineAmountTypes` is `Inclusive`) in the document's
//!   currency. Lines of one document are summed per account code: one value
//!   per (document, account), on the document's date (a UK day). A bill or
//!   payment that is voided or deleted restates its values to zero; drafts
//!   and bills awaiting approval are not spend yet.
//! - 429 carries `Retry-After` (seconds) and `X-Rate-Limit-Problem`
//!   (`minute`, `day`): waited out. 401 is the grant; 403 a tenant that
//!   is no longer connected.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

use crate::providers::http::{error_message, sanitize, HttpRequest, HttpResponse};
use crate::sync::engine::{Discovered, DiscoveryStep, Page, PageError, Source};
use crate::sync::london;
use crate::sync::record::{ActivityRecord, ActivityType};

/// Rows per page, as Xero pages them.
pub const PAGE_SIZE: usize = 100;

pub struct XeroSync {
    pub base: String,
    pub access_token: String,
}

/// One of a tenant's two spend feeds.
#[derive(Clone, Copy)]
enum Feed {
    Bank,
    Bills,
}

impl Feed {
    fn parse(s: &str) -> Option<Feed> {
        match s {
            "bank" => Some(Feed::Bank),
            "bills" => Some(Feed::Bills),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Feed::Bank => "bank",
            Feed::Bills => "bills",
        }
    }
    /// Path, filter and the list's key and id field in the answer.
    fn wire(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Feed::Bank => (
                "BankTransactions",
                "Type==\"SPEND\"",
                "BankTransactions",
                "BankTransactionID",
            ),
            Feed::Bills => ("Invoices", "Type==\"ACCPAY\"", "Invoices", "InvoiceID"),
        }
    }
}

fn fail(resp: &HttpResponse) -> PageError {
    let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let said = error_message(&resp.body)
        .or_else(|| body["Detail"].as_str().map(str::to_owned))
        .or_else(|| body["Message"].as_str().map(str::to_owned))
        .map(|m| sanitize(&m))
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    match resp.status {
        429 => PageError::RateLimited {
            retry_after: resp
                .retry_after_secs()
                .map(|s| Duration::seconds(s.min(86_400) as i64)),
        },
        401 => PageError::Unauthorized(said),
        403 => PageError::Rejected(format!(
            "Xero refused access to an organisation (is it still connected?): {said}"
        )),
        400 | 404 => PageError::Rejected(said),
        _ => PageError::Transient(said),
    }
}

fn json_body(resp: &HttpResponse, what: &str) -> Result<Value, PageError> {
    if resp.status != 200 {
        return Err(fail(resp));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|_| PageError::Transient(format!("an unreadable {what} answer")))
}

/// `/Date(1476316800000+0000)/`: milliseconds since the epoch.
pub fn xero_date(s: &str) -> Option<DateTime<Utc>> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let ms = inner
        .split(|c| c == '+' || (c == '-' && !inner.starts_with(c)))
        .next()?;
    DateTime::from_timestamp_millis(ms.parse().ok()?)
}

/// The document's date: `DateString` (`2016-10-13T00:00:00`, the
/// organisation's day) where present, else the `/Date()/` form.
fn document_date(doc: &Value) -> Option<NaiveDate> {
    if let Some(s) = doc["DateString"].as_str() {
        return NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok();
    }
    doc["Date"]
        .as_str()
        .and_then(xero_date)
        .map(|t| t.date_naive())
}

/// A line's amount without tax, as the document states its lines.
fn net_amount(line: &Value, amount_types: &str) -> f64 {
    let amount = line["LineAmount"].as_f64().unwrap_or(0.0);
    let tax = line["TaxAmount"].as_f64().unwrap_or(0.0);
    if amount_types == "Inclusive" {
        amount - tax
    } else {
        amount
    }
}

impl XeroSync {
    fn api(&self, path: &str, tenant: &str) -> HttpRequest {
        HttpRequest::get(format!("{}/api.xro/2.0/{path}", self.base))
            .bearer(&self.access_token)
            .header("xero-tenant-id", tenant)
            .header("accept", "application/json")
    }

    fn records(
        &self,
        stream_key: &str,
        spec: &Value,
        feed: Feed,
        docs: &[Value],
    ) -> Vec<ActivityRecord> {
        let (_, _, _, id_field) = feed.wire();
        let tenant = spec["tenant_id"].as_str().unwrap_or_default();
        let accounts = &spec["accounts"];
        let mut out = Vec::new();
        for doc in docs {
            let Some(id) = doc[id_field].as_str() else {
                continue;
            };
            let status = doc["Status"].as_str().unwrap_or_default();
            let gone = matches!(status, "VOIDED" | "DELETED");
            if !gone && !matches!(status, "AUTHORISED" | "PAID") {
                continue; // drafts and bills awaiting approval: not spend yet
            }
            let Some(date) = document_date(doc) else {
                continue;
            };
            let Some(next) = date.succ_opt() else {
                continue;
            };
            let currency = doc["CurrencyCode"].as_str().unwrap_or("GBP").to_owned();
            let amount_types = doc["LineAmountTypes"].as_str().unwrap_or("Exclusive");
            let mut by_account: BTreeMap<String, f64> = BTreeMap::new();
            for line in doc["LineItems"].as_array().into_iter().flatten() {
                let code = line["AccountCode"].as_str().unwrap_or_default().to_owned();
                *by_account.entry(code).or_default() += net_amount(line, amount_types);
            }
            for (code, net) in by_account {
                let name = accounts[&code].as_str();
                out.push(ActivityRecord {
                    stream: format!("xero:{tenant}:{}:{id}", feed.name()),
                    activity_type: ActivityType::Spend,
                    detail: code.clone(),
                    period_start: london::midnight(date),
                    period_end: london::midnight(next),
                    quantity: if gone {
                        0.0
                    } else {
                        (net * 100.0).round() / 100.0
                    },
                    unit: currency.clone(),
                    estimated: false,
                    region: None,
                    tariff: None,
                    conversion: Some(json!({
                        "account_code": code,
                        "account_name": name,
                        "document": doc.get("InvoiceNumber").or(doc.get("Reference")),
                        "status": status,
                        "line_amount_types": amount_types,
                        "tax_exclusive": true,
                        "currency_rate": doc["CurrencyRate"],
                        "feed": stream_key,
                    })),
                });
            }
        }
        out
    }
}

impl Source for XeroSync {
    /// `GET /connections`, then each tenant's `/Accounts`.
    fn discovery(&self, answers: &[HttpResponse]) -> DiscoveryStep {
        let Some(first) = answers.first() else {
            let req = HttpRequest::get(format!("{}/connections", self.base))
                .bearer(&self.access_token)
                .header("accept", "application/json");
            return DiscoveryStep::Fetch(req);
        };
        let tenants: Vec<Value> = match json_body(first, "connections") {
            Ok(Value::Array(list)) => list
                .into_iter()
                .filter(|c| c["tenantType"].as_str().unwrap_or("ORGANISATION") == "ORGANISATION")
                .collect(),
            Ok(_) => {
                return DiscoveryStep::Failed(PageError::Transient(
                    "connections is not a list".into(),
                ))
            }
            Err(e) => return DiscoveryStep::Failed(e),
        };
        let charts = &answers[1..];
        // A chart refused for a reason other than access fails at once.
        if let Some(Err(e)) = charts.last().map(|c| json_body(c, "Accounts")) {
            if !matches!(e, PageError::Rejected(_)) {
                return DiscoveryStep::Failed(e);
            }
        }
        if let Some(next) = tenants.get(charts.len()) {
            let tenant = next["tenantId"].as_str().unwrap_or_default();
            return DiscoveryStep::Fetch(self.api("Accounts", tenant));
        }
        let mut found = Vec::new();
        for (tenant, chart) in tenants.iter().zip(charts) {
            let chart = match json_body(chart, "Accounts") {
                Ok(c) => c,
                // A grant without the settings scope (older apps), or an
                // organisation that hides its chart: lines keep their codes
                // without names.
                Err(PageError::Rejected(_)) => Value::Null,
                Err(e) => return DiscoveryStep::Failed(e),
            };
            let accounts: serde_json::Map<String, Value> = chart["Accounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| Some((a["Code"].as_str()?.to_owned(), a["Name"].clone())))
                .collect();
            let Some(id) = tenant["tenantId"].as_str() else {
                continue;
            };
            for feed in [Feed::Bank, Feed::Bills] {
                found.push(Discovered {
                    key: format!("xero:{id}:{}", feed.name()),
                    spec: json!({
                        "tenant_id": id,
                        "tenant_name": tenant["tenantName"],
                        "feed": feed.name(),
                        "accounts": accounts,
                    }),
                });
            }
        }
        DiscoveryStep::Done(found)
    }

    fn change_feed(&self) -> bool {
        true
    }

    fn page_request(
        &self,
        spec: &Value,
        from: DateTime<Utc>,
        _to: DateTime<Utc>,
        token: Option<&str>,
    ) -> HttpRequest {
        let feed = Feed::parse(spec["feed"].as_str().unwrap_or_default()).unwrap_or(Feed::Bank);
        let (path, filter, _, _) = feed.wire();
        let page = token.unwrap_or("1");
        let query = serde_urlencoded::to_string([
            ("where", filter),
            ("order", "UpdatedDateUTC ASC"),
            ("page", page),
        ])
        .unwrap_or_default();
        let tenant = spec["tenant_id"].as_str().unwrap_or_default();
        self.api(&format!("{path}?{query}"), tenant).header(
            "if-modified-since",
            from.format("%Y-%m-%dT%H:%M:%S").to_string(),
        )
    }

    fn parse_page(
        &self,
        stream: &str,
        spec: &Value,
        window: (DateTime<Utc>, DateTime<Utc>),
        resp: &HttpResponse,
    ) -> Result<Page, PageError> {
        let feed = Feed::parse(spec["feed"].as_str().unwrap_or_default())
            .ok_or_else(|| PageError::Rejected(format!("unknown Xero feed for {stream}")))?;
        let (_, _, list, _) = feed.wire();
        let body = json_body(resp, list)?;
        let docs = body[list].as_array().cloned().unwrap_or_default();
        let page = body["pagination"]["page"].as_u64();
        let more = match (page, body["pagination"]["pageCount"].as_u64()) {
            (Some(page), Some(count)) => page < count,
            _ => docs.len() >= PAGE_SIZE,
        };
        let records = self.records(stream, spec, feed, &docs);
        // The newest modification read, to the second (the header's
        // precision: documents of that second are read again, harmlessly).
        let newest = docs
            .last()
            .and_then(|d| d["UpdatedDateUTC"].as_str())
            .and_then(xero_date)
            .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0));
        if more {
            if let Some(newest) = newest.filter(|t| *t > window.0) {
                // Keyset paging: the next request asks for changes since
                // the last one read. Page numbers under a fixed
                // If-Modified-Since would skip a document whenever one
                // already read is edited (it moves to the end, and the
                // rest shift up a place).
                return Ok(Page {
                    records,
                    covered_to: newest,
                    next: None,
                });
            }
            // A whole page modified within the same second: the next page
            // number of the same If-Modified-Since.
            let page = page.ok_or_else(|| {
                PageError::Transient("a full page of documents without its pagination".into())
            })?;
            return Ok(Page {
                records,
                covered_to: window.0,
                next: Some((page + 1).to_string()),
            });
        }
        Ok(Page {
            records,
            covered_to: window.1,
            next: None,
        })
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
