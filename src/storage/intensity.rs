//! Grid intensity rows and the regions they are kept for.

use carbon_core::datasources::{parse_timestamp, timestamp};
use carbon_core::intensity::Point;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{int, opt_text, text, Db};

/// The regions connected electricity meters are in, with where each stands
/// (a region first seen is added, not yet fetched).
pub async fn regions(db: &Db, now: &str) -> worker::Result<Vec<(u8, Option<DateTime<Utc>>)>> {
    let add = db
        .prepare(
            "INSERT INTO grid_regions (region, updated_at) SELECT DISTINCT CAST(region AS INTEGER), ?1 \
             FROM activity_streams WHERE region IS NOT NULL AND activity_type IN ('electricity_import', 'electricity_export') \
             AND CAST(region AS INTEGER) BETWEEN 1 AND 17 ON CONFLICT (region) DO NOTHING",
        )
        .bind(&[text(now)])?;
    let list = db.prepare("SELECT region, cursor FROM grid_regions ORDER BY region");
    let results = db.batch(vec![add, list]).await?;
    #[derive(Deserialize)]
    struct Row {
        region: u8,
        cursor: Option<String>,
    }
    Ok(results[1]
        .results::<Row>()?
        .into_iter()
        .map(|r| (r.region, r.cursor.as_deref().and_then(parse_timestamp)))
        .collect())
}

/// Stores a window's points and moves the region on, in one transaction.
pub async fn store(
    db: &Db,
    region: u8,
    points: &[Point],
    cursor: DateTime<Utc>,
    now: DateTime<Utc>,
) -> worker::Result<()> {
    let json = serde_json::to_string(points).unwrap_or_default();
    let upsert = db
        .prepare(
            "INSERT INTO grid_intensity (region, period_start, forecast, actual, index_label, updated_at) \
             SELECT json_extract(value, '$.r'), json_extract(value, '$.t'), json_extract(value, '$.f'), \
             json_extract(value, '$.a'), json_extract(value, '$.i'), ?2 FROM json_each(?1) WHERE true \
             ON CONFLICT (region, period_start) DO UPDATE SET forecast = excluded.forecast, \
             actual = COALESCE(excluded.actual, grid_intensity.actual), index_label = excluded.index_label, \
             updated_at = excluded.updated_at \
             WHERE grid_intensity.forecast IS NOT excluded.forecast OR grid_intensity.index_label IS NOT excluded.index_label \
             OR (excluded.actual IS NOT NULL AND grid_intensity.actual IS NOT excluded.actual)",
        )
        .bind(&[text(&json), int(now.timestamp())])?;
    let moved = db
        .prepare("UPDATE grid_regions SET cursor = ?1, last_error = NULL, updated_at = ?2 WHERE region = ?3")
        .bind(&[text(&timestamp(cursor)), text(&timestamp(now)), int(region.into())])?;
    // Lines over changed half-hours are recomputed (by the cron, after).
    let changed = super::emissions::mark_regional(db, region, now.timestamp())?;
    db.batch(vec![upsert, moved, changed]).await?;
    Ok(())
}

pub async fn failed(db: &Db, region: u8, error: &str, now: DateTime<Utc>) -> worker::Result<()> {
    db.prepare("UPDATE grid_regions SET last_error = ?1, updated_at = ?2 WHERE region = ?3")
        .bind(&[
            opt_text(Some(error)),
            text(&timestamp(now)),
            int(region.into()),
        ])?
        .run()
        .await?;
    Ok(())
}
