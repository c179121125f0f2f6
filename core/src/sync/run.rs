//! A sync run as stored and as the API shows it.

use serde::{Deserialize, Serialize};

/// A `sync_runs` row; also the API's view of a run (nothing in it is secret).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub id: String,
    pub datasource_id: String,
    #[serde(skip_serializing)]
    pub user_id: String,
    pub trigger: String,
    pub mode: String,
    pub status: String,
    pub period_from: Option<String>,
    pub period_to: String,
    #[serde(skip_serializing)]
    pub horizon_start: String,
    pub queued_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub pages: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub attempts: i64,
    pub next_retry_at: Option<String>,
    pub error_class: Option<String>,
    pub error: Option<String>,
    /// Uploads: the SHA-256 of the file (the same file again is this run).
    pub upload_sha256: Option<String>,
}

impl Run {
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "partial" | "failed")
    }
}

/// Columns of [`Run`], for SELECTs.
pub const RUN_COLUMNS: &str = "id, datasource_id, user_id, trigger, mode, status, period_from, period_to, \
    horizon_start, queued_at, started_at, finished_at, pages, inserted, updated, unchanged, attempts, \
    next_retry_at, error_class, error, upload_sha256";
