//! The emissions engine's Worker side: recomputing a datasource's lines
//! when what they were computed with changed (settings, a deploy with new
//! factors or rules, new grid intensity). The engine is
//! `carbon_core::emissions`; the SQL is `storage::emissions`.

use carbon_core::datasources::timestamp;
use carbon_core::emissions::factors::fingerprint;
use carbon_core::emissions::lines::Settings;

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
    let value = serde_json::from_str(settings).unwrap_or_default();
    let now = timestamp(ctx.now());
    emissions::recompute(&ctx.db, id, &Settings::from_json(&value), from, dirty, &now).await
}

/// Recomputes the datasources whose lines are stale, oldest first: all of
/// a datasource computed under another factor set, else from the first day
/// with new grid intensity. Returns how many.
pub async fn recompute_stale(ctx: &Ctx<'_>) -> worker::Result<u32> {
    let stale = emissions::stale(&ctx.db, PER_TICK).await?;
    for s in &stale {
        let from = if s.emissions_basis.as_deref() == Some(fingerprint()) {
            s.emissions_dirty_from.unwrap_or(0)
        } else {
            0
        };
        recompute(ctx, &s.id, &s.settings, from, s.emissions_dirty_from).await?;
    }
    Ok(stale.len() as u32)
}
