//! Planning: what period a run covers, where each stream starts, how big a
//! request's window is, when the next run is due, and how long to back off.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Scheduled,
    Manual,
    Webhook,
    Upload,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Scheduled => "scheduled",
            Trigger::Manual => "manual",
            Trigger::Webhook => "webhook",
            Trigger::Upload => "upload",
        }
    }
}

/// `incremental` resumes each stream a little before where it stopped;
/// `full` re-reads the whole horizon (idempotently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    #[default]
    Incremental,
    Full,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Incremental => "incremental",
            RunMode::Full => "full",
        }
    }
}

/// How far back a first sync reaches: 13 months, so a full reporting year
/// and the month before it are always held.
pub const DEFAULT_HORIZON: Duration = Duration::days(396);
/// The longest horizon a datasource may ask for (ten years).
pub const MAX_HORIZON_DAYS: u64 = 3_660;

/// The horizon a datasource's settings ask for, when valid.
pub fn horizon_setting(settings: &serde_json::Value) -> Option<Duration> {
    crate::whole::as_whole(&settings["sync_horizon_days"])
        .filter(|d| (1..=MAX_HORIZON_DAYS).contains(d))
        .map(|d| Duration::days(d as i64))
}

/// Incremental runs re-read this much before the stored position: smart
/// meter data lands hours or days late, and providers correct readings
/// (restatements) within days.
pub const LOOKBACK: Duration = Duration::days(2);

/// The longest period one request asks for: a year of half-hourly data is
/// 17,568 intervals, inside Octopus's 25,000-row page.
pub const MAX_WINDOW: Duration = Duration::days(366);

/// The period a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunPlan {
    pub mode: RunMode,
    /// Explicitly requested start, else decided per stream.
    pub from: Option<DateTime<Utc>>,
    pub to: DateTime<Utc>,
    /// The oldest data a run fetches.
    pub horizon_start: DateTime<Utc>,
}

impl RunPlan {
    pub fn new(
        mode: RunMode,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Self {
        RunPlan {
            mode,
            from,
            to: to.unwrap_or(now).min(now),
            horizon_start: now - DEFAULT_HORIZON,
        }
    }

    /// The first sync reaches back `horizon` instead of the default (the
    /// datasource setting `sync_horizon_days`; the provider caps it at what
    /// it holds).
    pub fn with_horizon(mut self, horizon: Option<Duration>, now: DateTime<Utc>) -> Self {
        if let Some(h) = horizon {
            self.horizon_start = now - h;
        }
        self
    }

    /// Where a stream starts in this run, given its stored high-water mark.
    pub fn start_for(&self, cursor: Option<DateTime<Utc>>) -> DateTime<Utc> {
        if let Some(from) = self.from {
            return from;
        }
        match (self.mode, cursor) {
            (RunMode::Incremental, Some(c)) => (c - LOOKBACK).max(self.horizon_start),
            _ => self.horizon_start,
        }
    }

    /// The window of the next request for a stream standing at `position`.
    pub fn window(&self, position: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (position, (position + MAX_WINDOW).min(self.to))
    }
}

/// A stable fraction in [0, 1) from a seed, for jitter that spreads ten
/// thousand connections across an interval without any shared state.
pub fn unit_fraction(seed: &str) -> f64 {
    let digest = Sha256::digest(seed.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    f64::from(n) / (f64::from(u32::MAX) + 1.0)
}

/// When a datasource syncing every `minutes` is next due: one period on,
/// plus up to a tenth of a period of jitter stable for the datasource, so
/// connections made at the same moment do not fire at the same second.
pub fn next_sync_at(now: DateTime<Utc>, minutes: u32, datasource_id: &str) -> DateTime<Utc> {
    let period = Duration::minutes(minutes.into());
    let jitter_ms = (period.num_milliseconds() as f64 / 10.0) * unit_fraction(datasource_id);
    now + period + Duration::milliseconds(jitter_ms as i64)
}

/// Backoff before retrying a failed slice: 30 s doubling to at most an
/// hour, with up to half of it again as jitter (seeded per run and attempt).
pub fn retry_backoff(attempt: u32, seed: &str) -> Duration {
    let base = 30i64 << attempt.min(7);
    let base = base.min(3600);
    let jitter = (base as f64 * 0.5 * unit_fraction(&format!("{seed}:{attempt}"))) as i64;
    Duration::seconds(base + jitter)
}

/// Slices a run may fail in a row before it ends `failed` (or `partial`).
pub const MAX_ATTEMPTS: u32 = 5;

/// Runs that may fail in a row, over at least [`PAUSE_AFTER_SPAN`], before
/// the datasource is paused until the user re-enables it.
pub const PAUSE_AFTER_FAILURES: u32 = 10;
pub const PAUSE_AFTER_SPAN: Duration = Duration::days(3);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_datasource_may_ask_for_a_longer_or_shorter_horizon() {
        let now: DateTime<Utc> = "2026-11-30T00:00:00Z".parse().unwrap();
        let two_years = horizon_setting(&serde_json::json!({"sync_horizon_days": 730}));
        let plan = RunPlan::new(RunMode::Incremental, None, None, now).with_horizon(two_years, now);
        assert_eq!(plan.start_for(None), now - Duration::days(730));
        for bad in [
            serde_json::json!({"sync_horizon_days": 0}),
            serde_json::json!({"sync_horizon_days": "90"}),
            serde_json::json!({}),
        ] {
            assert_eq!(horizon_setting(&bad), None, "{bad}");
        }
    }

    #[test]
    fn first_sync_backfills_the_horizon_and_incremental_resumes_with_a_lookback() {
        let now = at("2026-11-30T00:00:00Z");
        let plan = RunPlan::new(RunMode::Incremental, None, None, now);
        assert_eq!(plan.start_for(None), now - DEFAULT_HORIZON);
        let cursor = at("2026-11-29T12:00:00Z");
        assert_eq!(plan.start_for(Some(cursor)), cursor - LOOKBACK);
        let full = RunPlan::new(RunMode::Full, None, None, now);
        assert_eq!(full.start_for(Some(cursor)), now - DEFAULT_HORIZON);
    }

    #[test]
    fn windows_are_at_most_a_year_and_end_at_the_run_end() {
        let now = at("2026-11-30T00:00:00Z");
        let plan = RunPlan::new(RunMode::Full, None, None, now);
        let (from, to) = plan.window(plan.horizon_start);
        assert_eq!(to - from, MAX_WINDOW);
        let (_, to) = plan.window(to);
        assert_eq!(to, now);
    }

    #[test]
    fn next_sync_jitter_is_stable_and_within_a_tenth_of_the_period() {
        let now = at("2026-11-30T00:00:00Z");
        let a = next_sync_at(now, 60, "ds_a");
        assert_eq!(a, next_sync_at(now, 60, "ds_a"));
        assert!(a >= now + Duration::minutes(60) && a < now + Duration::minutes(66));
        let spread: std::collections::BTreeSet<_> = (0..100)
            .map(|i| next_sync_at(now, 60, &format!("ds_{i}")).timestamp_millis())
            .collect();
        assert!(spread.len() > 90, "jitter spreads connections");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(retry_backoff(0, "r") >= Duration::seconds(30));
        assert!(retry_backoff(0, "r") < Duration::seconds(46));
        assert!(retry_backoff(20, "r") <= Duration::seconds(5400));
        assert!(retry_backoff(20, "r") >= Duration::seconds(3600));
    }
}
