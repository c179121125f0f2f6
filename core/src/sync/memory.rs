//! In-memory implementations of the engine's seams, for native tests: a
//! store with the same atomicity as the D1 one, and a crash schedule that
//! can cut any operation before or after it takes effect.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::engine::{Blobs, Discovered, PageCounts, PageWrite, StreamState, SyncStore};
use super::plan::RunPlan;
use super::record::ActivityType;
use crate::providers::HttpResponse;

/// Where the scheduled crashes fall: operation numbers (every store write,
/// fetch and blob put counts one) at which the operation fails before
/// taking effect, or takes effect and then "fails" (the invocation died
/// before it could report success).
#[derive(Default)]
pub struct Crashes {
    pub before: BTreeSet<u64>,
    pub after: BTreeSet<u64>,
    counter: Cell<u64>,
}

pub enum Cut {
    None,
    Before,
    After,
}

impl Crashes {
    pub fn next(&self) -> Cut {
        let n = self.counter.get();
        self.counter.set(n + 1);
        if self.before.contains(&n) {
            Cut::Before
        } else if self.after.contains(&n) {
            Cut::After
        } else {
            Cut::None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub quantity: f64,
    pub previous: Option<f64>,
    pub restated: bool,
    pub raw_sha256: String,
}

/// (stream, type, detail, unit, start, end): the D1 store's series and period.
pub type RecordKey = (
    String,
    ActivityType,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
);

/// A stream's place in a run: position, done, continuation token.
pub type Position = (DateTime<Utc>, bool, Option<String>);

#[derive(Default)]
pub struct State {
    pub streams: BTreeMap<String, (Value, Option<DateTime<Utc>>)>,
    pub positions: BTreeMap<(String, String), Position>,
    pub records: BTreeMap<RecordKey, Stored>,
    pub counts: PageCounts,
    /// The last failure noted per stream.
    pub errors: BTreeMap<String, String>,
    /// Discovery answers kept per run.
    pub discovery: BTreeMap<String, Vec<HttpResponse>>,
}

pub struct MemoryStore<'a> {
    pub state: RefCell<State>,
    pub crashes: &'a Crashes,
}

impl<'a> MemoryStore<'a> {
    pub fn new(crashes: &'a Crashes) -> Self {
        MemoryStore {
            state: RefCell::new(State::default()),
            crashes,
        }
    }
}

impl SyncStore for MemoryStore<'_> {
    async fn streams(&self, run_id: &str) -> Result<Vec<StreamState>, String> {
        let s = self.state.borrow();
        Ok(s.streams
            .iter()
            .map(|(key, (spec, cursor))| {
                let run = s.positions.get(&(run_id.to_owned(), key.clone()));
                StreamState {
                    key: key.clone(),
                    spec: spec.clone(),
                    cursor: *cursor,
                    position: run.map(|r| r.0),
                    token: run.and_then(|r| r.2.clone()),
                    done: run.is_some_and(|r| r.1),
                }
            })
            .collect())
    }

    async fn begin_streams(
        &self,
        run_id: &str,
        found: &[Discovered],
        plan: &RunPlan,
    ) -> Result<(), String> {
        let cut = self.crashes.next();
        if matches!(cut, Cut::Before) {
            return Err("crash before begin_streams".into());
        }
        let mut s = self.state.borrow_mut();
        s.discovery.remove(run_id);
        for d in found {
            let cursor = s.streams.get(&d.key).and_then(|(_, c)| *c);
            s.streams.insert(d.key.clone(), (d.spec.clone(), cursor));
            s.positions
                .entry((run_id.to_owned(), d.key.clone()))
                .or_insert((plan.start_for(cursor), false, None));
        }
        match cut {
            Cut::After => Err("crash after begin_streams".into()),
            _ => Ok(()),
        }
    }

    async fn apply_page(&self, page: &PageWrite<'_>) -> Result<PageCounts, String> {
        let cut = self.crashes.next();
        if matches!(cut, Cut::Before) {
            return Err("crash before apply_page".into());
        }
        let mut s = self.state.borrow_mut();
        let mut counts = PageCounts::default();
        for r in page.records {
            let key = (
                r.stream.clone(),
                r.activity_type,
                r.detail.clone(),
                r.unit.clone(),
                r.period_start,
                r.period_end,
            );
            match s.records.get_mut(&key) {
                None => {
                    counts.inserted += 1;
                    s.records.insert(
                        key,
                        Stored {
                            quantity: r.quantity,
                            previous: None,
                            restated: false,
                            raw_sha256: page.raw_sha256.to_owned(),
                        },
                    );
                }
                Some(old) if old.quantity != r.quantity => {
                    counts.updated += 1;
                    old.previous = Some(old.quantity);
                    old.quantity = r.quantity;
                    old.restated = true;
                    old.raw_sha256 = page.raw_sha256.to_owned();
                }
                Some(_) => counts.unchanged += 1,
            }
        }
        let run_key = (page.run_id.to_owned(), page.stream.to_owned());
        let entry = s
            .positions
            .entry(run_key)
            .or_insert((page.position, false, None));
        entry.0 = entry.0.max(page.position);
        entry.1 |= page.done;
        entry.2 = page.token.map(str::to_owned);
        if let Some((_, cursor)) = s.streams.get_mut(page.stream) {
            let newest = match page.watermark {
                Some(w) => Some(w),
                None => page.records.iter().map(|r| r.period_end).max(),
            };
            *cursor = (*cursor).max(newest);
        }
        s.counts.inserted += counts.inserted;
        s.counts.updated += counts.updated;
        s.counts.unchanged += counts.unchanged;
        match cut {
            Cut::After => Err("crash after apply_page".into()),
            _ => Ok(counts),
        }
    }

    async fn discovery(&self, run_id: &str) -> Result<Vec<HttpResponse>, String> {
        Ok(self
            .state
            .borrow()
            .discovery
            .get(run_id)
            .cloned()
            .unwrap_or_default())
    }

    async fn keep_discovery(
        &self,
        run_id: &str,
        seq: usize,
        resp: &HttpResponse,
    ) -> Result<(), String> {
        let mut s = self.state.borrow_mut();
        let kept = s.discovery.entry(run_id.to_owned()).or_default();
        kept.truncate(seq);
        kept.push(resp.clone());
        Ok(())
    }

    async fn stream_failed(&self, stream: &str, error: &str) -> Result<(), String> {
        self.state
            .borrow_mut()
            .errors
            .insert(stream.to_owned(), error.to_owned());
        Ok(())
    }
}

pub struct MemoryBlobs<'a> {
    pub keys: RefCell<BTreeSet<String>>,
    pub crashes: &'a Crashes,
}

impl Blobs for MemoryBlobs<'_> {
    async fn put(&self, key: &str, _body: &[u8]) -> Result<(), String> {
        match self.crashes.next() {
            Cut::Before => Err("crash before put".into()),
            cut => {
                self.keys.borrow_mut().insert(key.to_owned());
                match cut {
                    Cut::After => Err("crash after put".into()),
                    _ => Ok(()),
                }
            }
        }
    }
}
