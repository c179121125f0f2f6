//! One slice of a sync run, against small traits for storage, outbound
//! HTTP and raw-payload storage (D1, fetch and R2 in the Worker; in-memory
//! in tests), and a sans-I/O [`Source`] that describes a provider's
//! requests and reads its answers.
//!
//! Every slice starts from what storage says: which streams this run has
//! discovered, and where each stands. A page moves its stream's position
//! only in the same atomic write that stores the page's records, so a slice
//! cut at any point (after the fetch, after the raw body is kept, after the
//! write but before the queue hears of it) is simply run again: at most one
//! page is fetched twice, none is skipped, and records are upserted by
//! natural key, never duplicated.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use super::plan::RunPlan;
pub use super::seams::*;
use crate::providers::HttpResponse;

/// One invocation's work.
pub struct Slice<'a> {
    pub run_id: &'a str,
    pub plan: &'a RunPlan,
    /// Subrequests this slice may spend (fetches and raw-body puts).
    pub budget: u32,
    /// Provider requests the provider app's shared budget granted this
    /// slice (`u32::MAX` for providers without one).
    pub calls: u32,
    pub now: DateTime<Utc>,
}

/// How a slice ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SliceOutcome {
    /// Every stream reached the end of the run.
    Done(Progress),
    /// The budget is spent; another slice continues.
    More(Progress),
    RateLimited(Progress, Option<Duration>),
    Unauthorized(Progress, String),
    Rejected(Progress, String),
    /// Transient: the provider, the network or storage failed.
    Retry(Progress, String),
}

impl SliceOutcome {
    pub fn progress(&self) -> Progress {
        match self {
            SliceOutcome::Done(p)
            | SliceOutcome::More(p)
            | SliceOutcome::RateLimited(p, _)
            | SliceOutcome::Unauthorized(p, _)
            | SliceOutcome::Rejected(p, _)
            | SliceOutcome::Retry(p, _) => *p,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub pages: u32,
    pub counts: PageCounts,
    /// Provider requests sent (what the app's shared budget paid for).
    pub calls: u32,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where raw bodies live: content-addressed by SHA-256.
pub fn raw_key(sha256: &str) -> String {
    format!("raw/{}/{sha256}", &sha256[..2])
}

fn page_failure(progress: Progress, err: PageError, now: DateTime<Utc>) -> SliceOutcome {
    match err {
        PageError::RateLimited { retry_after } => SliceOutcome::RateLimited(progress, retry_after),
        PageError::RateLimitedUntil(until) => {
            SliceOutcome::RateLimited(progress, Some((until - now).max(Duration::seconds(1))))
        }
        PageError::Unauthorized(r) => SliceOutcome::Unauthorized(progress, r),
        PageError::Rejected(r) => SliceOutcome::Rejected(progress, r),
        PageError::Transient(r) => SliceOutcome::Retry(progress, r),
    }
}

/// A discovery answer that must be asked again rather than kept.
fn transient(resp: &HttpResponse) -> Option<PageError> {
    let said = || format!("HTTP {} during discovery", resp.status);
    match resp.status {
        429 => Some(PageError::RateLimited {
            retry_after: resp
                .retry_after_secs()
                .map(|s| Duration::seconds(s.min(86_400) as i64)),
        }),
        401 => Some(PageError::Unauthorized(said())),
        s if s >= 500 => Some(PageError::Transient(said())),
        _ => None,
    }
}

pub async fn run_slice<S: SyncStore, F: Fetcher, B: Blobs>(
    store: &S,
    fetcher: &F,
    blobs: &B,
    source: &dyn Source,
    slice: &Slice<'_>,
) -> SliceOutcome {
    let mut progress = Progress::default();
    let mut budget = slice.budget;
    let mut calls = slice.calls;
    let retry = |p, e: String| SliceOutcome::Retry(p, e);
    let mut streams = match store.streams(slice.run_id).await {
        Ok(s) => s,
        Err(e) => return retry(progress, format!("storage: {e}")),
    };
    if !streams.iter().any(|s| s.position.is_some()) {
        // Discovery resumes from the answers earlier slices kept: one that
        // needs more calls than a slice gets (many systems, organisations)
        // still gets through, a slice at a time.
        let mut answers = match store.discovery(slice.run_id).await {
            Ok(a) => a,
            Err(e) => return retry(progress, format!("storage: {e}")),
        };
        let mut kept = answers.len();
        let found = loop {
            match source.discovery(&answers) {
                DiscoveryStep::Done(found) => break found,
                DiscoveryStep::Failed(err) => return page_failure(progress, err, slice.now),
                DiscoveryStep::Fetch(req) => {
                    // The answers discovery went on from are kept (one
                    // storage call each); one it failed on never is.
                    while kept < answers.len() && budget > 0 {
                        // A refusal or a failure is never kept (a later
                        // slice must ask again), whatever the source made
                        // of it.
                        if let Some(err) = transient(&answers[kept]) {
                            return page_failure(progress, err, slice.now);
                        }
                        budget -= 1;
                        let stored = store.keep_discovery(slice.run_id, kept, &answers[kept]);
                        if let Err(e) = stored.await {
                            return retry(progress, format!("storage: {e}"));
                        }
                        kept += 1;
                    }
                    if budget == 0 || calls == 0 || !fetcher.may_send() {
                        return SliceOutcome::More(progress);
                    }
                    budget -= 1;
                    calls -= 1;
                    progress.calls += 1;
                    match fetcher.send(&req).await {
                        Ok(resp) => answers.push(resp),
                        Err(e) => return retry(progress, e),
                    }
                }
            }
        };
        if let Err(e) = store.begin_streams(slice.run_id, &found, slice.plan).await {
            return retry(progress, format!("storage: {e}"));
        }
        if found.is_empty() {
            return SliceOutcome::Done(progress);
        }
        streams = match store.streams(slice.run_id).await {
            Ok(s) => s,
            Err(e) => return retry(progress, format!("storage: {e}")),
        };
    }
    streams.sort_by(|a, b| a.key.cmp(&b.key));
    for stream in streams.iter_mut() {
        let Some(mut position) = stream.position else {
            continue; // known from an earlier run, gone from the account
        };
        let mut token = stream.token.clone();
        while !stream.done {
            if budget < 2 {
                return SliceOutcome::More(progress);
            }
            // A change feed reads every change since its position at once
            // (its pages are not time windows); others go a window at a time.
            let window = if source.change_feed() {
                (position, slice.plan.to)
            } else {
                source.align(slice.plan.window(position))
            };
            if window.0 >= window.1 {
                // Nothing left to ask for: close the stream with an empty page.
                let write = PageWrite {
                    run_id: slice.run_id,
                    stream: &stream.key,
                    records: &[],
                    position,
                    token: None,
                    watermark: source.change_feed().then_some(position),
                    done: true,
                    raw_sha256: "",
                    now: slice.now,
                };
                if let Err(e) = store.apply_page(&write).await {
                    return retry(progress, format!("storage: {e}"));
                }
                stream.done = true;
                break;
            }
            if calls == 0 || !fetcher.may_send() {
                return SliceOutcome::More(progress);
            }
            let req = source.page_request(&stream.spec, window.0, window.1, token.as_deref());
            budget -= 1;
            calls -= 1;
            progress.calls += 1;
            let resp = match fetcher.send(&req).await {
                Ok(resp) => resp,
                Err(e) => {
                    let _ = store.stream_failed(&stream.key, &e).await;
                    return retry(progress, e);
                }
            };
            let page = match source.parse_page(&stream.key, &stream.spec, window, &resp) {
                Ok(page) => page,
                Err(err) => {
                    let said = match &err {
                        PageError::RateLimited { .. } | PageError::RateLimitedUntil(_) => {
                            "rate limited by the provider".to_owned()
                        }
                        PageError::Unauthorized(r)
                        | PageError::Rejected(r)
                        | PageError::Transient(r) => r.clone(),
                    };
                    let _ = store.stream_failed(&stream.key, &said).await;
                    return page_failure(progress, err, slice.now);
                }
            };
            let continues = page.next.is_some() && page.next != token;
            if page.covered_to < position || (page.covered_to == position && !continues) {
                return retry(
                    progress,
                    "the provider's page did not advance the stream".into(),
                );
            }
            let sha = sha256_hex(&resp.body);
            budget -= 1;
            if let Err(e) = blobs.put(&raw_key(&sha), &resp.body).await {
                return retry(progress, format!("raw payload storage: {e}"));
            }
            let done = page.next.is_none() && page.covered_to >= slice.plan.to;
            let write = PageWrite {
                run_id: slice.run_id,
                stream: &stream.key,
                records: &page.records,
                position: page.covered_to,
                token: page.next.as_deref(),
                watermark: (done && source.change_feed()).then_some(page.covered_to),
                done,
                raw_sha256: &sha,
                now: slice.now,
            };
            match store.apply_page(&write).await {
                Ok(counts) => {
                    progress.pages += 1;
                    progress.counts.inserted += counts.inserted;
                    progress.counts.updated += counts.updated;
                    progress.counts.unchanged += counts.unchanged;
                }
                Err(e) => return retry(progress, format!("storage: {e}")),
            }
            position = page.covered_to;
            token = page.next;
            stream.done = done;
        }
    }
    SliceOutcome::Done(progress)
}
