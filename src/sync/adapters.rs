//! The engine's seams in the Worker: provider calls through `outbound`
//! (bounded, no redirects) and raw payloads in R2.

use carbon_core::providers::{HttpRequest, HttpResponse};
use carbon_core::sync::{Blobs, Fetcher};
use worker::Bucket;

use crate::outbound;

/// Provider calls, until the deadline of the call budget that granted them
/// (unix ms): past it, a call would count in the provider's next window.
pub struct WorkerFetcher {
    pub deadline_ms: Option<i64>,
}

impl Fetcher for WorkerFetcher {
    async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, String> {
        outbound::send(req).await.map_err(|e| e.to_string())
    }

    fn may_send(&self) -> bool {
        self.deadline_ms
            .is_none_or(|d| crate::clock::now().timestamp_millis() < d)
    }
}

/// Raw provider bodies, content-addressed (`raw/ab/<sha256>`): any stored
/// number traces back to the bytes the provider sent.
pub struct R2Blobs(pub Bucket);

impl Blobs for R2Blobs {
    async fn put(&self, key: &str, body: &[u8]) -> Result<(), String> {
        self.0
            .put(key, body.to_vec())
            .execute()
            .await
            .map(|_| ())
            .map_err(|e| format!("R2: {e}"))
    }
}
