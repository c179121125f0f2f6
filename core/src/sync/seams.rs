//! What the sync engine talks to: storage, outbound HTTP and raw-payload
//! storage as small traits (D1, fetch and R2 in the Worker; in-memory in
//! tests), and a provider's sans-I/O [`Source`]. The engine is `engine.rs`.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::plan::RunPlan;
use super::record::ActivityRecord;
use crate::providers::{HttpRequest, HttpResponse};

/// A stream (meter, system, tenant...) as storage holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamState {
    pub key: String,
    /// The provider's description of the stream (ids, region, tariffs).
    pub spec: Value,
    /// The end of the newest period stored for it, across runs.
    pub cursor: Option<DateTime<Utc>>,
    /// Where this run stands for it; `None` when the run has not started it.
    pub position: Option<DateTime<Utc>>,
    /// The provider's continuation for the next page at `position` (a page
    /// number, a `next_page` token), when the last page said there is one.
    pub token: Option<String>,
    pub done: bool,
}

/// A stream found by discovery.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    pub key: String,
    pub spec: Value,
}

/// One page, written atomically: records upserted, the stream's position
/// (and high-water mark) advanced, the run's counters updated.
#[derive(Debug)]
pub struct PageWrite<'a> {
    pub run_id: &'a str,
    pub stream: &'a str,
    pub records: &'a [ActivityRecord],
    pub position: DateTime<Utc>,
    /// The continuation to ask for next at `position` (see [`Page::next`]).
    pub token: Option<&'a str>,
    /// For change feeds ([`Source::change_feed`]): the stream's cursor
    /// becomes the position reached when it is done, not its newest record.
    pub watermark: Option<DateTime<Utc>>,
    pub done: bool,
    pub raw_sha256: &'a str,
    pub now: DateTime<Utc>,
}

/// What a page write changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait SyncStore {
    /// Every stream known for the run's datasource, with this run's positions.
    async fn streams(&self, run_id: &str) -> Result<Vec<StreamState>, String>;
    /// Records the discovered streams and starts each in this run at
    /// `start(cursor)`; streams already started in this run keep their place.
    async fn begin_streams(
        &self,
        run_id: &str,
        found: &[Discovered],
        plan: &RunPlan,
    ) -> Result<(), String>;
    /// The atomic page write (see [`PageWrite`]).
    async fn apply_page(&self, page: &PageWrite<'_>) -> Result<PageCounts, String>;
    /// The discovery answers this run has kept so far, in order (a
    /// discovery longer than one slice's calls resumes from them).
    async fn discovery(&self, run_id: &str) -> Result<Vec<HttpResponse>, String>;
    /// Keeps discovery answer number `seq` of the run (dropped when its
    /// streams begin).
    async fn keep_discovery(
        &self,
        run_id: &str,
        seq: usize,
        resp: &HttpResponse,
    ) -> Result<(), String>;
    /// Notes why a stream's last page failed (shown per stream; cleared by
    /// the stream's next page). Best effort: the run records the failure.
    async fn stream_failed(&self, stream: &str, error: &str) -> Result<(), String>;
}

#[allow(async_fn_in_trait)]
pub trait Fetcher {
    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, String>;
    /// Whether a provider call may still start (the calls granted by a
    /// shared budget lapse with its window); checked before each one.
    fn may_send(&self) -> bool {
        true
    }
}

#[allow(async_fn_in_trait)]
pub trait Blobs {
    /// Keeps `body` under `key` (content-addressed: putting it twice is harmless).
    async fn put(&self, key: &str, body: &[u8]) -> Result<(), String>;
}

/// Why a provider answer cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum PageError {
    /// 429 or a provider's throttling page: wait, this is not a failure.
    RateLimited { retry_after: Option<Duration> },
    /// Rate limited until an instant the provider named (Enphase's quota
    /// answer carries `period_end`).
    RateLimitedUntil(DateTime<Utc>),
    /// The credentials are refused (401).
    Unauthorized(String),
    /// The request is refused for good (unknown meter, bad account).
    Rejected(String),
    /// 5xx, a malformed body: try again later.
    Transient(String),
}

/// One step of discovery.
pub enum DiscoveryStep {
    Fetch(HttpRequest),
    Done(Vec<Discovered>),
    Failed(PageError),
}

/// A parsed page: its records and how far it covers the window asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<ActivityRecord>,
    /// The stream's new position: the window's end when the page was the
    /// last one of the window, else the end of its last record.
    pub covered_to: DateTime<Utc>,
    /// More of the same window follows under this continuation (Xero's
    /// next page number); `covered_to` may then stay where it was.
    pub next: Option<String>,
}

/// A provider's side of syncing, sans-I/O.
pub trait Source {
    /// The next discovery request given the answers so far, or the streams.
    fn discovery(&self, answers: &[HttpResponse]) -> DiscoveryStep;
    /// The window actually asked for, given the plan's: a provider that
    /// reports whole days asks for whole days (an empty window closes the
    /// stream for this run).
    fn align(&self, window: (DateTime<Utc>, DateTime<Utc>)) -> (DateTime<Utc>, DateTime<Utc>) {
        window
    }
    /// The request for one stream's data in `[from, to)`, continuing at
    /// `token` when the previous page gave one ([`Page::next`]).
    fn page_request(
        &self,
        spec: &Value,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        token: Option<&str>,
    ) -> HttpRequest;
    /// Streams positioned by change time (Xero's `If-Modified-Since`), not
    /// by the time their records cover: a stream's cursor is where its last
    /// run got to, whatever dates its records carry.
    fn change_feed(&self) -> bool {
        false
    }
    /// Reads the answer to [`Source::page_request`].
    fn parse_page(
        &self,
        stream: &str,
        spec: &Value,
        window: (DateTime<Utc>, DateTime<Utc>),
        resp: &HttpResponse,
    ) -> Result<Page, PageError>;
}
