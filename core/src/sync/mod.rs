//! The sync engine: pulling a provider's data into normalised activity
//! records, resumable from stored state at every step.
//!
//! A run is a sequence of *slices*, each one invocation's worth of work (a
//! subrequest budget). A slice reads where each stream stands from storage,
//! fetches the next page, keeps the raw body, and applies the page (records
//! upserted by natural key *and* the stream's position advanced) in one
//! atomic write. A crash anywhere re-fetches at most one page and never
//! skips one: the position only moves with the data it covers. The Worker
//! adapts D1, R2, Queues and fetch to the traits in [`engine`]; native
//! tests drive the same code against in-memory ones.

pub mod engine;
pub mod london;
pub mod plan;
pub mod record;
pub mod request;
pub mod run;
pub mod seams;

#[cfg(test)]
pub(crate) mod memory;
#[cfg(test)]
mod tests;

pub use engine::{
    run_slice, Blobs, Discovered, Fetcher, PageCounts, PageWrite, Progress, Slice, SliceOutcome,
    Source, StreamState, SyncStore,
};
pub use plan::{RunMode, RunPlan, Trigger};
pub use record::{ActivityRecord, ActivityType};
