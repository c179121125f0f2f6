//! The AI usage sources against fakes that answer in the documented shapes
//! (../shared/PROVIDERS.md), driven by the real engine and in-memory store.

use std::cell::Cell;

use chrono::{DateTime, Duration, Utc};
use futures_executor::block_on;
use serde_json::{json, Value};

use super::{AiUsageSync, Vendor};
use crate::providers::{HttpRequest, HttpResponse};
use crate::sync::engine::{run_slice, Fetcher, Slice, SliceOutcome};
use crate::sync::memory::{Crashes, MemoryBlobs, MemoryStore};
use crate::sync::{ActivityType, RunMode, RunPlan};

const NOW: &str = "2026-11-30T10:37:00Z";

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn query(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?.1.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

/// Usage per day (days before NOW's midnight) for two models.
fn tokens(day: i64, model: usize) -> (f64, f64) {
    (
        ((day * 7 + model as i64 * 13) % 50 + 1) as f64 * 1000.0,
        ((day * 3 + model as i64) % 20 + 1) as f64 * 100.0,
    )
}

const MODELS: [&str; 2] = ["gpt-4o-mini-2024-07-18", "claude-sonnet-4-20250514"];

struct Fake {
    vendor: Vendor,
    calls: Cell<u32>,
    throttle_first: Cell<bool>,
}

impl Fake {
    fn bucket(&self, start: DateTime<Utc>, report: &str) -> Value {
        let midnight = now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        let day = (midnight - start).num_days();
        let results: Vec<Value> = if day <= 0 || day > 60 {
            Vec::new() // no usage: an empty bucket, as the real API answers
        } else {
            MODELS
                .iter()
                .enumerate()
                .map(|(m, model)| {
                    let (i, o) = tokens(day, m);
                    match (self.vendor, report) {
                        (Vendor::OpenAi, "costs") => json!({"object": "organization.costs.result", "amount": {"value": i / 1e6, "currency": "usd"}, "line_item": format!("{model}, input")}),
                        (Vendor::OpenAi, _) => json!({"object": "organization.usage.completions.result", "input_tokens": i, "input_cached_tokens": i / 2.0, "output_tokens": o, "num_model_requests": 5, "project_id": null, "model": model}),
                        (Vendor::Anthropic, "costs") => json!({"amount": format!("{:.5}", i / 1e4), "currency": "USD", "description": format!("{model} Usage - Input Tokens"), "cost_type": "tokens", "model": null}),
                        (Vendor::Anthropic, _) => json!({"uncached_input_tokens": i - 300.0, "cache_creation": {"ephemeral_1h_input_tokens": 100, "ephemeral_5m_input_tokens": 100}, "cache_read_input_tokens": 100, "output_tokens": o, "server_tool_use": {"web_search_requests": 0}, "workspace_id": null, "model": model}),
                    }
                })
                .collect()
        };
        match self.vendor {
            Vendor::OpenAi => {
                json!({"object": "bucket", "start_time": start.timestamp(), "end_time": (start + Duration::days(1)).timestamp(), "results": results})
            }
            Vendor::Anthropic => {
                json!({"starting_at": start.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "ending_at": (start + Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(), "results": results})
            }
        }
    }
}

impl Fetcher for Fake {
    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        self.calls.set(self.calls.get() + 1);
        if self.throttle_first.replace(false) {
            return Ok(HttpResponse::new(
                429,
                br#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#.to_vec(),
            )
            .with_header("retry-after", "20"));
        }
        let url = &req.url;
        let (from, to): (DateTime<Utc>, DateTime<Utc>) = match self.vendor {
            Vendor::OpenAi => (
                DateTime::from_timestamp(query(url, "start_time").unwrap().parse().unwrap(), 0)
                    .unwrap(),
                DateTime::from_timestamp(query(url, "end_time").unwrap().parse().unwrap(), 0)
                    .unwrap(),
            ),
            Vendor::Anthropic => (
                query(url, "starting_at").unwrap().parse().unwrap(),
                query(url, "ending_at").unwrap().parse().unwrap(),
            ),
        };
        let report = if url.contains("cost") {
            "costs"
        } else {
            "usage"
        };
        let limit: i64 = query(url, "limit").unwrap().parse().unwrap();
        let days = (to - from).num_days();
        let shown = days.min(limit);
        let data: Vec<Value> = (0..shown)
            .map(|d| self.bucket(from + Duration::days(d), report))
            .collect();
        let body = json!({"object": "page", "data": data, "has_more": days > limit, "next_page": if days > limit { json!("AAAAAGdGxdEiJdKOAAAAAGcqsYA=") } else { Value::Null }});
        Ok(HttpResponse::new(200, body.to_string().into_bytes()))
    }
}

fn sync(vendor: Vendor) -> (MemoryStore<'static>, u32) {
    let crashes: &'static Crashes = Box::leak(Box::default());
    let store = MemoryStore::new(crashes);
    let blobs = MemoryBlobs {
        keys: Default::default(),
        crashes,
    };
    let fake = Fake {
        vendor,
        calls: Cell::new(0),
        throttle_first: Cell::new(true),
    };
    let src = AiUsageSync {
        vendor,
        base: "https://usage.invalid".into(),
        admin_key: "sk-admin-test".into(),
    };
    let plan = RunPlan::new(RunMode::Incremental, None, None, now());
    let mut rate_limited = 0;
    for _ in 0..100 {
        let slice = Slice {
            run_id: "run_1",
            plan: &plan,
            budget: 40,
            calls: u32::MAX,
            now: now(),
        };
        match block_on(run_slice(&store, &fake, &blobs, &src, &slice)) {
            SliceOutcome::Done(_) => {
                assert_eq!(rate_limited, 1, "the 429 waited as asked, once");
                return (store, fake.calls.get());
            }
            SliceOutcome::RateLimited(_, wait) => {
                assert_eq!(wait, Some(Duration::seconds(20)));
                rate_limited += 1;
            }
            SliceOutcome::More(_) => {}
            other => panic!("{other:?}"),
        }
    }
    panic!("never finished")
}

fn total(store: &MemoryStore, t: ActivityType, unit_model: &str) -> f64 {
    store
        .state
        .borrow()
        .records
        .iter()
        .filter(|(k, _)| k.1 == t && k.2 == unit_model)
        .map(|(_, v)| v.quantity)
        .sum()
}

#[test]
fn openai_usage_and_costs_arrive_per_model_and_whole_day_exactly() {
    let (store, calls) = sync(Vendor::OpenAi);
    let state = store.state.borrow();
    let midnight = now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    assert!(
        state.records.keys().all(|k| k.5 <= midnight),
        "today's partial day is not stored"
    );
    assert!(state.records.keys().all(|k| k.5 - k.4 == Duration::days(1)));
    // 60 days x 2 models: completions in and out, embeddings in.
    let tokens_records = state
        .records
        .keys()
        .filter(|k| k.1 == ActivityType::AiTokens)
        .count();
    assert_eq!(tokens_records, 60 * 2 * 2 + 60 * 2);
    drop(state);
    let want_input: f64 = (1..=60).map(|d| tokens(d, 0).0).sum();
    // Completions and embeddings both report input tokens for the model.
    assert_eq!(
        total(&store, ActivityType::AiTokens, MODELS[0]),
        want_input * 2.0 + (1..=60).map(|d| tokens(d, 0).1).sum::<f64>()
    );
    let spend = total(
        &store,
        ActivityType::Spend,
        &format!("{}, input", MODELS[0]),
    );
    assert!((spend - want_input / 1e6).abs() < 1e-9);
    // 396 days in pages of 31 days, three reports, one throttled call.
    assert_eq!(calls, 3 * 13 + 1);
}

#[test]
fn anthropic_input_counts_cache_reads_and_writes_and_costs_are_cents() {
    let (store, _) = sync(Vendor::Anthropic);
    let want_input: f64 = (1..=60).map(|d| tokens(d, 1).0).sum();
    let want_output: f64 = (1..=60).map(|d| tokens(d, 1).1).sum();
    let state = store.state.borrow();
    let input: f64 = state
        .records
        .iter()
        .filter(|(k, _)| k.2 == MODELS[1] && k.0 == "anthropic:messages")
        .map(|(_, v)| v.quantity)
        .sum();
    assert_eq!(input, want_input + want_output);
    drop(state);
    let spend = total(
        &store,
        ActivityType::Spend,
        &format!("{} Usage - Input Tokens", MODELS[1]),
    );
    assert!(
        (spend - want_input / 1e6).abs() < 1e-6,
        "{spend}: cents to dollars"
    );
}
