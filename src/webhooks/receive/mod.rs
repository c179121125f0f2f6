//! The receivers: raw bytes (already read once, within the route's cap) ->
//! signature verified in constant time -> parsed -> recorded once per
//! delivery id -> ingested (or a sync queued). Refused deliveries store
//! nothing but a count. One file per sender; what they share is here.

mod generic;
mod supplier;
mod xero;

pub use generic::generic;
pub use supplier::supplier;
pub use xero::xero;

use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;

use crate::connections::{db_error, Ctx};
use crate::storage::webhooks::{self as store, Claim, Delivery};

/// The Standard Webhooks headers of a request.
pub struct Signed {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub signature: Option<String>,
}

/// A key no endpoint has: an unknown endpoint's delivery is checked
/// against it, so it costs what a bad signature does.
pub(super) const DECOY: &str = "whsec_ZGVjb3ktZGVjb3ktZGVjb3ktZGVjb3ktZGVjb3k=";

/// Claims a delivery for processing: `None` to process it, `Some(Done)`
/// when it was processed already (acknowledge); in flight elsewhere, a 409
/// so the sender retries.
pub(super) async fn claim(ctx: &Ctx<'_>, d: &Delivery<'_>) -> Result<Option<Claim>, ApiError> {
    let stale = timestamp(ctx.now() - chrono::Duration::seconds(store::CLAIM_LEASE_SECS));
    match store::claim(&ctx.db, d, &stale).await.map_err(db_error)? {
        Claim::Claimed => Ok(None),
        Claim::Done => Ok(Some(Claim::Done)),
        Claim::InFlight => Err(ApiError::Conflict {
            detail: "this delivery is being processed by another attempt; retry in a few seconds"
                .into(),
        }),
    }
}

pub(super) async fn refuse(ctx: &Ctx<'_>, source: &str, scope: &str, reason: &str) {
    let day = timestamp(ctx.now())[..10].to_owned();
    // Counting is best effort: a refusal is answered whatever happens here.
    let _ = store::refused(&ctx.db, source, scope, reason, &day).await;
}
