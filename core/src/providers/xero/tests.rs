use super::*;
use crate::sync::engine::{DiscoveryStep, Source};

fn sync() -> XeroSync {
    XeroSync {
        base: "https://xero.test".into(),
        access_token: "tok".into(),
    }
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse::new(200, body.to_string())
}

fn spec(feed: &str) -> Value {
    json!({"tenant_id": "t-1", "feed": feed, "accounts": {"449": "Motor Vehicle Expenses", "445": "Light, Power, Heating"}})
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[test]
fn dates_in_xeros_wcf_form_are_read() {
    assert_eq!(
        xero_date("/Date(1476316800000+0000)/"),
        Some(at("2016-10-13T00:00:00Z"))
    );
    assert_eq!(
        xero_date("/Date(1551212901659)/"),
        DateTime::from_timestamp_millis(1_551_212_901_659)
    );
    assert_eq!(xero_date("2016-10-13"), None);
}

#[test]
fn discovery_lists_tenants_then_reads_each_chart_of_accounts() {
    let s = sync();
    let DiscoveryStep::Fetch(first) = s.discovery(&[]) else {
        panic!("connections first")
    };
    assert!(first.url.ends_with("/connections"));
    let conns = ok(json!([
        {"id": "c1", "tenantId": "t-1", "tenantName": "Ltd", "tenantType": "ORGANISATION"},
        {"id": "c2", "tenantId": "p-9", "tenantName": "Practice", "tenantType": "PRACTICEMANAGER"},
        {"id": "c3", "tenantId": "t-2", "tenantName": "Holdings", "tenantType": "ORGANISATION"}
    ]));
    let DiscoveryStep::Fetch(chart) = s.discovery(std::slice::from_ref(&conns)) else {
        panic!("accounts next")
    };
    assert!(chart.url.ends_with("/api.xro/2.0/Accounts"));
    assert!(chart
        .headers
        .iter()
        .any(|(k, v)| *k == "xero-tenant-id" && v == "t-1"));
    let accounts = ok(json!({"Accounts": [{"Code": "449", "Name": "Motor Vehicle Expenses"}]}));
    let answers = [conns.clone(), accounts.clone(), accounts];
    let DiscoveryStep::Done(found) = s.discovery(&answers) else {
        panic!("done after both charts")
    };
    let keys: Vec<_> = found.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "xero:t-1:bank",
            "xero:t-1:bills",
            "xero:t-2:bank",
            "xero:t-2:bills"
        ]
    );
    assert_eq!(found[0].spec["accounts"]["449"], "Motor Vehicle Expenses");
}

#[test]
fn a_page_asks_for_changes_since_the_position_and_continues_by_page_number() {
    let s = sync();
    let from = at("2026-01-02T03:04:05Z");
    let req = s.page_request(&spec("bills"), from, at("2026-02-01T00:00:00Z"), Some("3"));
    assert!(req.url.contains("/api.xro/2.0/Invoices?"), "{}", req.url);
    assert!(req.url.contains("page=3"));
    assert!(
        req.url.contains("where=Type%3D%3D%22ACCPAY%22"),
        "{}",
        req.url
    );
    assert!(req.url.contains("order=UpdatedDateUTC+ASC"), "{}", req.url);
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        header("if-modified-since").as_deref(),
        Some("2026-01-02T03:04:05")
    );
    assert_eq!(header("xero-tenant-id").as_deref(), Some("t-1"));

    let window = (from, at("2026-02-01T00:00:00Z"));
    let full = |page: u64, count: u64| {
        ok(
            json!({"pagination": {"page": page, "pageSize": 100, "pageCount": count, "itemCount": 250},
                  "Invoices": []}),
        )
    };
    let p = s
        .parse_page("xero:t-1:bills", &spec("bills"), window, &full(2, 3))
        .unwrap();
    assert_eq!((p.covered_to, p.next.as_deref()), (from, Some("3")));
    // Otherwise the next request asks for changes since the last one read.
    let keyset = ok(
        json!({"pagination": {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 250},
        "Invoices": [{"InvoiceID": "i", "Status": "DRAFT", "UpdatedDateUTC": "/Date(1767409445789+0000)/"}]}),
    );
    let p = s
        .parse_page("xero:t-1:bills", &spec("bills"), window, &keyset)
        .unwrap();
    assert_eq!((p.covered_to, p.next), (at("2026-01-03T03:04:05Z"), None));
    let p = s
        .parse_page("xero:t-1:bills", &spec("bills"), window, &full(3, 3))
        .unwrap();
    assert_eq!((p.covered_to, p.next), (window.1, None));
}

#[test]
fn lines_are_tax_exclusive_summed_per_account_and_voids_restate_to_zero() {
    let s = sync();
    let body = json!({"Invoices": [
        {"InvoiceID": "inv-1", "Type": "ACCPAY", "Status": "AUTHORISED", "InvoiceNumber": "B-1",
         "DateString": "2026-06-30T00:00:00", "Date": "/Date(1782777600000+0000)/", "LineAmountTypes": "Inclusive",
         "CurrencyCode": "GBP", "CurrencyRate": 1.0,
         "LineItems": [
            {"AccountCode": "445", "LineAmount": 120.0, "TaxAmount": 20.0},
            {"AccountCode": "445", "LineAmount": 60.0, "TaxAmount": 10.0},
            {"AccountCode": "449", "LineAmount": 30.5, "TaxAmount": 0.0}]},
        {"InvoiceID": "inv-2", "Type": "ACCPAY", "Status": "VOIDED", "DateString": "2026-06-01T00:00:00",
         "LineAmountTypes": "Exclusive", "CurrencyCode": "EUR", "LineItems": [{"AccountCode": "449", "LineAmount": 99.0, "TaxAmount": 0.0}]},
        {"InvoiceID": "inv-3", "Type": "ACCPAY", "Status": "DRAFT", "DateString": "2026-06-02T00:00:00",
         "LineAmountTypes": "Exclusive", "CurrencyCode": "GBP", "LineItems": [{"AccountCode": "449", "LineAmount": 5.0}]}
    ]});
    let window = (at("2026-01-01T00:00:00Z"), at("2026-07-01T00:00:00Z"));
    let p = s
        .parse_page("xero:t-1:bills", &spec("bills"), window, &ok(body))
        .unwrap();
    assert_eq!(p.next, None);
    let got: Vec<_> = p
        .records
        .iter()
        .map(|r| {
            (
                r.stream.as_str(),
                r.detail.as_str(),
                r.quantity,
                r.unit.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("xero:t-1:bills:inv-1", "445", 150.0, "GBP"),
            ("xero:t-1:bills:inv-1", "449", 30.5, "GBP"),
            ("xero:t-1:bills:inv-2", "449", 0.0, "EUR"),
        ]
    );
    // The organisation's date, as a UK day (BST: 23:00 UTC the day before).
    assert_eq!(p.records[0].period_start, at("2026-06-29T23:00:00Z"));
    assert_eq!(p.records[0].period_end, at("2026-06-30T23:00:00Z"));
    assert_eq!(
        p.records[0].conversion.as_ref().unwrap()["account_name"],
        "Light, Power, Heating"
    );
}

#[test]
fn limits_and_refusals_are_read_as_xero_sends_them() {
    let s = sync();
    let window = (at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"));
    let limited = HttpResponse::new(429, "")
        .with_header("retry-after", "37")
        .with_header("x-rate-limit-problem", "minute");
    assert_eq!(
        s.parse_page("x", &spec("bank"), window, &limited),
        Err(PageError::RateLimited {
            retry_after: Some(Duration::seconds(37))
        })
    );
    let gone = HttpResponse::new(403, json!({"Type": null, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"}).to_string());
    assert!(matches!(
        s.parse_page("x", &spec("bank"), window, &gone),
        Err(PageError::Rejected(m)) if m.contains("AuthenticationUnsuccessful")
    ));
    let full_without_pagination = ok(json!({"BankTransactions": vec![json!({}); PAGE_SIZE]}));
    assert!(matches!(
        s.parse_page("x", &spec("bank"), window, &full_without_pagination),
        Err(PageError::Transient(_))
    ));
}

/// Answers like Xero for three organisations with empty books, counting calls.
struct Books {
    calls: std::cell::RefCell<Vec<String>>,
}

impl crate::sync::engine::Fetcher for Books {
    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        self.calls.borrow_mut().push(req.url.clone());
        let body = if req.url.ends_with("/connections") {
            json!([
                {"tenantId": "t-1", "tenantType": "ORGANISATION", "tenantName": "A"},
                {"tenantId": "t-2", "tenantType": "ORGANISATION", "tenantName": "B"},
                {"tenantId": "t-3", "tenantType": "ORGANISATION", "tenantName": "C"}
            ])
        } else if req.url.contains("/Accounts") {
            json!({"Accounts": [{"Code": "449", "Name": "Motor Vehicle Expenses"}]})
        } else {
            json!({"pagination": {"page": 1, "pageSize": 100, "pageCount": 1, "itemCount": 0}, "BankTransactions": [], "Invoices": []})
        };
        Ok(HttpResponse::new(200, body.to_string()))
    }
}

#[test]
fn a_discovery_longer_than_a_slice_resumes_where_it_stopped() {
    use crate::sync::engine::{run_slice, Slice, SliceOutcome};
    use crate::sync::memory::{Crashes, MemoryBlobs, MemoryStore};
    use crate::sync::{RunMode, RunPlan};
    let crashes = Crashes::default();
    let store = MemoryStore::new(&crashes);
    let blobs = MemoryBlobs {
        keys: Default::default(),
        crashes: &crashes,
    };
    let books = Books {
        calls: Default::default(),
    };
    let now = at("2026-11-30T12:00:00Z");
    let plan = RunPlan::new(RunMode::Incremental, None, None, now);
    let src = sync();
    let mut slices = 0;
    loop {
        slices += 1;
        assert!(slices < 100, "the run never finished");
        // One provider call a slice: less than discovery's four.
        let slice = Slice {
            run_id: "run_1",
            plan: &plan,
            budget: 40,
            calls: 1,
            now,
        };
        match futures_executor::block_on(run_slice(&store, &books, &blobs, &src, &slice)) {
            SliceOutcome::Done(_) => break,
            SliceOutcome::More(p) => assert_eq!(p.calls, 1),
            other => panic!("{other:?}"),
        }
    }
    let calls = books.calls.borrow();
    // Connections, three charts, then bank and bills for each: no call twice.
    assert_eq!(calls.len(), 1 + 3 + 6, "{calls:#?}");
    assert_eq!(slices, 10);
    assert!(
        store.state.borrow().discovery.is_empty(),
        "kept answers are dropped once streams begin"
    );
}
