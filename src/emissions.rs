//! The emissions engine's Worker side: recomputing a datasource's lines
//! when what they were computed with changed (settings, a deploy with new
//! factors or rules, new grid intensity). The engine is
//! `carbon_core::emissions`; the SQL is `storage::emissions`.

use carbon_core::datasources::timestamp;
use carbon_core::emissions::factors::fingerprint;

use crate::connections::Ctx;
use crate::storage::emissions;

/// Datasources recomputed per cron tick: each is two D1 round trips.
pub const PER_TICK: u32 = 25;

/// Recomputes one datasource's lines from `from` (unix s) on.
pub async fn recompute(
    ctx: &Ctx<'_>,
    id: &str,
    settings: &str,
    from: i64,
    dirty: Option<i64>,
) -> worker::Result<()> {
    let now = timestamp(ctx.now());
    emissions::recompute(&ctx.db, id, settings, from, dirty, &now).await
}

/// Recomputes the datasources whose lines are stale, oldest first: all of
/// a datasource computed under another factor set, else from the first day
/// with new grid intensity. One that fails is logged and left for the next
/// tick (the others go on). Returns how many were recomputed.
pub async fn recompute_stale(ctx: &Ctx<'_>) -> worker::Result<u32> {
    let stale = emissions::stale(&ctx.db, PER_TICK).await?;
    let mut done = 0;
    for s in &stale {
        let from = if s.emissions_basis.as_deref() == Some(fingerprint()) {
            s.emissions_dirty_from.unwrap_or(0)
        } else {
            0
        };
        match recompute(ctx, &s.id, &s.settings, from, s.emissions_dirty_from).await {
            Ok(()) => done += 1,
            Err(e) => worker::console_error!(
                "{}",
                serde_json::json!({"level": "error", "msg": "emissions recompute", "datasource_id": s.id, "error": e.to_string()})
            ),
        }
    }
    Ok(done)
}
