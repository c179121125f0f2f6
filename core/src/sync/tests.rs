//! The engine against a fake Octopus speaking its documented formats, with
//! crashes cut into every step: thousands of seeded schedules, each ending
//! with exactly the provider's data stored, nothing lost or doubled.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use futures_executor::block_on;
use serde_json::json;

use super::engine::{run_slice, Fetcher, Slice, SliceOutcome};
use super::london;
use super::memory::{Crashes, Cut, MemoryBlobs, MemoryStore};
use super::plan::{RunMode, RunPlan, LOOKBACK};
use super::record::ActivityType;
use crate::providers::octopus::sync::OctopusSync;
use crate::providers::{HttpRequest, HttpResponse};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// One meter's half-hourly data, by interval start.
type Series = BTreeMap<DateTime<Utc>, f64>;

struct FakeOctopus<'a> {
    electricity: RefCell<Series>,
    gas: RefCell<Series>,
    /// Most intervals per page (Octopus allows 25,000; smaller here so a
    /// year spans many pages).
    page_cap: usize,
    crashes: &'a Crashes,
    /// Every so many fetches answers 429 or 500 instead.
    flaky_every: Option<u64>,
    fetches: Cell<u64>,
}

fn series(from: DateTime<Utc>, to: DateTime<Utc>, rng: &mut Rng) -> Series {
    let mut s = Series::new();
    let mut t = from;
    while t < to {
        s.insert(t, (rng.below(2000) as f64) / 1000.0);
        t += Duration::minutes(30);
    }
    s
}

/// Octopus writes interval times in UK local time with their offset.
fn octopus_time(t: DateTime<Utc>) -> String {
    let offset = FixedOffset::east_opt((london::offset_hours(t) * 3600) as i32).unwrap();
    t.with_timezone(&offset).to_rfc3339()
}

fn query(url: &str) -> BTreeMap<String, String> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    serde_urlencoded::from_str(q).unwrap()
}

impl Fetcher for FakeOctopus<'_> {
    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        let n = self.fetches.get();
        self.fetches.set(n + 1);
        if matches!(self.crashes.next(), Cut::Before) {
            return Err("connection reset".into());
        }
        if let Some(every) = self.flaky_every {
            if n % every == every - 1 {
                return Ok(if n.is_multiple_of(2) {
                    HttpResponse::new(429, "{}").with_header("Retry-After", "30")
                } else {
                    HttpResponse::new(502, "<html>Bad gateway</html>")
                });
            }
        }
        let path = req
            .url
            .split('?')
            .next()
            .unwrap()
            .replace("http://octopus.test", "");
        let ok = |v: serde_json::Value| Ok(HttpResponse::new(200, v.to_string()));
        match path.as_str() {
            "/v1/accounts/A-1B2C3D4E/" => ok(json!({
                "number": "A-1B2C3D4E",
                "properties": [{
                    "electricity_meter_points": [{
                        "mpan": "2000012345678",
                        "meters": [{"serial_number": "21L1234567"}],
                        "agreements": [{"tariff_code": "E-1R-AGILE-24-10-01-H", "valid_from": "2024-10-01T00:00:00+01:00", "valid_to": null}],
                        "is_export": false
                    }],
                    "gas_meter_points": [{"mprn": "1234567890", "meters": [{"serial_number": "E6S12345678901"}], "agreements": []}]
                }]
            })),
            "/v1/electricity-meter-points/2000012345678/" => {
                ok(json!({"gsp": "_H", "mpan": "2000012345678", "profile_class": 1}))
            }
            p if p.ends_with("/consumption/") => {
                let q = query(&req.url);
                let from = at(&q["period_from"]);
                let to = at(&q["period_to"]);
                assert_eq!(q["order_by"], "period");
                let data = if p.contains("gas") {
                    &self.gas
                } else {
                    &self.electricity
                };
                let data = data.borrow();
                let rows: Vec<_> = data.range(from..to).collect();
                let page: Vec<_> = rows.iter().take(self.page_cap).collect();
                let results: Vec<_> = page
                    .iter()
                    .map(|(start, value)| {
                        json!({"consumption": value, "interval_start": octopus_time(**start), "interval_end": octopus_time(**start + Duration::minutes(30))})
                    })
                    .collect();
                let next =
                    (rows.len() > self.page_cap).then(|| format!("http://octopus.test{p}?page=2"));
                ok(json!({"count": rows.len(), "next": next, "previous": null, "results": results}))
            }
            other => Ok(HttpResponse::new(
                404,
                format!("{{\"detail\":\"{other} not found\"}}"),
            )),
        }
    }
}

fn source() -> OctopusSync {
    OctopusSync {
        base: "http://octopus.test".into(),
        api_key: "sk_live_test".into(),
        account: "A-1B2C3D4E".into(),
        gas_in_m3: true,
        calorific_value: 39.5,
    }
}

/// Runs slices until the run is done, as the queue would redeliver them.
fn drive(
    store: &MemoryStore,
    fetcher: &FakeOctopus,
    blobs: &MemoryBlobs,
    plan: &RunPlan,
    run_id: &str,
    budget: u32,
) -> u32 {
    let src = source();
    for slices in 1..10_000 {
        let slice = Slice {
            run_id,
            plan,
            budget,
            calls: u32::MAX,
            now: plan.to,
        };
        match block_on(run_slice(store, fetcher, blobs, &src, &slice)) {
            SliceOutcome::Done(_) => return slices,
            SliceOutcome::More(_) | SliceOutcome::Retry(..) | SliceOutcome::RateLimited(..) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    panic!("the run never finished");
}

const NOW: &str = "2026-11-30T00:00:00Z";

fn assert_stored_exactly(store: &MemoryStore, fake: &FakeOctopus, plan: &RunPlan) {
    let state = store.state.borrow();
    let start = plan.horizon_start;
    let elec: Vec<_> = fake
        .electricity
        .borrow()
        .range(start..plan.to)
        .map(|(k, v)| (*k, *v))
        .collect();
    let gas: Vec<_> = fake
        .gas
        .borrow()
        .range(start..plan.to)
        .map(|(k, v)| (*k, *v))
        .collect();
    let stored_elec: Vec<_> = state
        .records
        .iter()
        .filter(|(k, _)| k.1 == ActivityType::ElectricityImport)
        .map(|(k, v)| (k.4, v.quantity))
        .collect();
    assert_eq!(stored_elec, elec, "electricity equals the provider's");
    let stored_gas: Vec<_> = state
        .records
        .iter()
        .filter(|(k, _)| k.1 == ActivityType::Gas)
        .map(|(k, v)| (k.4, v.quantity))
        .collect();
    assert_eq!(stored_gas.len(), gas.len(), "gas: every interval once");
    for ((t1, kwh), (t2, m3)) in stored_gas.iter().zip(&gas) {
        assert_eq!(t1, t2);
        assert!((kwh - m3 * 1.02264 * 39.5 / 3.6).abs() < 1e-9);
    }
    assert_eq!(
        state.counts.inserted as usize,
        elec.len() + gas.len(),
        "every record was inserted exactly once"
    );
}

/// `days` of data (396: the whole horizon), paged `page_cap` at a time.
fn fixture(seed: u64, crashes: &Crashes, days: i64, page_cap: usize) -> (FakeOctopus<'_>, RunPlan) {
    let now = at(NOW);
    let plan = RunPlan::new(RunMode::Incremental, None, None, now);
    let mut rng = Rng(seed | 1);
    let first = (now - Duration::days(days)).max(plan.horizon_start);
    // Electricity starts a little later than gas, and both lag "now".
    let fake = FakeOctopus {
        electricity: RefCell::new(series(
            first + Duration::days(3),
            now - Duration::days(1),
            &mut rng,
        )),
        gas: RefCell::new(series(first, now - Duration::days(2), &mut rng)),
        page_cap,
        crashes,
        flaky_every: None,
        fetches: Cell::new(0),
    };
    (fake, plan)
}

#[test]
fn a_clean_run_stores_thirteen_months_of_both_meters_across_many_pages() {
    let crashes = Crashes::default();
    let (fake, plan) = fixture(7, &crashes, 396, 2_000);
    let store = MemoryStore::new(&crashes);
    let blobs = MemoryBlobs {
        keys: RefCell::default(),
        crashes: &crashes,
    };
    drive(&store, &fake, &blobs, &plan, "run_1", 40);
    assert_stored_exactly(&store, &fake, &plan);
    let state = store.state.borrow();
    let (key, stored) = state.records.iter().next().unwrap();
    assert!(
        blobs
            .keys
            .borrow()
            .iter()
            .any(|k| k.ends_with(&stored.raw_sha256)),
        "{key:?} traces to a kept page"
    );
}

#[test]
fn crashes_at_any_step_lose_and_double_nothing() {
    // Two weeks of data in pages of 60 intervals: about 25 pages a run,
    // and up to a dozen cuts per schedule.
    for seed in 0..2_000u64 {
        let mut rng = Rng(seed * 7919 + 1);
        let mut crashes = Crashes::default();
        for _ in 0..(1 + rng.below(12)) {
            let op = rng.below(80);
            if rng.below(2) == 0 {
                crashes.before.insert(op);
            } else {
                crashes.after.insert(op);
            }
        }
        let (mut fake, plan) = fixture(seed, &crashes, 14, 60);
        fake.flaky_every = (seed % 3 == 0).then_some(5 + seed % 7);
        let store = MemoryStore::new(&crashes);
        let blobs = MemoryBlobs {
            keys: RefCell::default(),
            crashes: &crashes,
        };
        let budget = 2 + (seed % 9) as u32 * 3;
        drive(&store, &fake, &blobs, &plan, "run_1", budget);
        assert_stored_exactly(&store, &fake, &plan);
    }
}

#[test]
fn two_consumers_racing_on_one_run_store_everything_once() {
    for seed in 0..200u64 {
        let crashes = Crashes::default();
        let (fake, plan) = fixture(seed, &crashes, 14, 60);
        let store = MemoryStore::new(&crashes);
        let blobs = MemoryBlobs {
            keys: RefCell::default(),
            crashes: &crashes,
        };
        let src = source();
        for _ in 0..1000 {
            let slice = Slice {
                run_id: "run_1",
                plan: &plan,
                budget: 4,
                calls: u32::MAX,
                now: plan.to,
            };
            let (a, b) = block_on(futures_util::future::join(
                run_slice(&store, &fake, &blobs, &src, &slice),
                run_slice(&store, &fake, &blobs, &src, &slice),
            ));
            if matches!(a, SliceOutcome::Done(_)) && matches!(b, SliceOutcome::Done(_)) {
                break;
            }
        }
        // Two slices may store the same page twice: as an update of nothing.
        let state = store.state.borrow();
        assert!(state.records.values().all(|r| !r.restated));
        drop(state);
        let elec = fake
            .electricity
            .borrow()
            .range(plan.horizon_start..plan.to)
            .count();
        let gas = fake.gas.borrow().range(plan.horizon_start..plan.to).count();
        assert_eq!(store.state.borrow().records.len(), elec + gas);
    }
}

#[test]
fn an_incremental_run_picks_up_new_intervals_and_restates_a_corrected_one() {
    let crashes = Crashes::default();
    let (fake, plan) = fixture(11, &crashes, 396, 2_000);
    let store = MemoryStore::new(&crashes);
    let blobs = MemoryBlobs {
        keys: RefCell::default(),
        crashes: &crashes,
    };
    drive(&store, &fake, &blobs, &plan, "run_1", 40);

    // A day later: a new day of data, and yesterday's last reading corrected.
    let later = plan.to + Duration::days(1);
    let last = *fake.electricity.borrow().keys().next_back().unwrap();
    fake.electricity.borrow_mut().insert(last, 9.999);
    let mut t = last + Duration::minutes(30);
    while t < later - Duration::days(1) {
        fake.electricity.borrow_mut().insert(t, 0.5);
        t += Duration::minutes(30);
    }
    let next = RunPlan::new(RunMode::Incremental, None, None, later);
    let fetched_before = fake.fetches.get();
    let before = store.state.borrow().counts;
    drive(&store, &fake, &blobs, &next, "run_2", 40);
    let state = store.state.borrow();
    let corrected = state
        .records
        .iter()
        .find(|(k, _)| k.1 == ActivityType::ElectricityImport && k.4 == last)
        .unwrap()
        .1;
    assert_eq!(corrected.quantity, 9.999);
    assert!(corrected.restated && corrected.previous.is_some());
    assert_eq!(
        state.counts.updated - before.updated,
        1,
        "only the corrected reading is rewritten"
    );
    assert_eq!(
        state.counts.inserted - before.inserted,
        48,
        "the new day, once"
    );
    // Incremental: discovery plus one page per meter from (cursor - lookback).
    assert_eq!(
        fake.fetches.get() - fetched_before,
        4,
        "{LOOKBACK:?} re-read, not the horizon"
    );
}
