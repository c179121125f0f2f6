//! Refreshing GB regional grid intensity on the sync cron: the plan and
//! the parsing are `carbon_core::intensity`; this fetches and stores.

use carbon_core::error::ApiError;
use carbon_core::intensity::{self, API_BASE};
use carbon_core::providers::setting;

use crate::connections::{db_error, Ctx};
use crate::outbound;
use crate::storage::intensity as rows;

/// Requests per refresh. Each window is a fetch and a D1 batch (2
/// subrequests): 16 windows are 32, plus 1 for the regions and the
/// scheduling's 13 (3 D1, 10 `sendBatch`) = 46, inside the free plan's 50
/// per invocation. A region first seen takes two refreshes to backfill (29
/// windows).
const BUDGET: usize = 16;

/// Returns (windows fetched, points stored).
pub async fn refresh(ctx: &Ctx<'_>) -> Result<(u32, u32), ApiError> {
    let now = ctx.now();
    let regions = rows::regions(&ctx.db, &carbon_core::datasources::timestamp(now))
        .await
        .map_err(db_error)?;
    let base = setting(&ctx.settings(), "CARBON_INTENSITY", "API_BASE", API_BASE);
    let mut fetched = 0;
    let mut stored = 0;
    let mut failed: Vec<u8> = Vec::new();
    for w in intensity::plan(&regions, now, BUDGET) {
        if failed.contains(&w.region) {
            continue; // windows must stay in order: the region waits for the next refresh
        }
        let answer = outbound::send(&intensity::request(&base, &w))
            .await
            .map_err(|e| format!("Carbon Intensity API: {e}"))
            .and_then(|resp| intensity::parse(&w, &resp));
        fetched += 1;
        match answer {
            Ok(points) => {
                rows::store(
                    &ctx.db,
                    w.region,
                    &points,
                    intensity::next_cursor(w.to, now),
                    now,
                )
                .await
                .map_err(db_error)?;
                stored += points.len() as u32;
            }
            Err(e) => {
                failed.push(w.region);
                rows::failed(&ctx.db, w.region, &e, now)
                    .await
                    .map_err(db_error)?;
            }
        }
    }
    Ok((fetched, stored))
}
