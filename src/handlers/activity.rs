//! GET /api/v1/activity: what a user's sources delivered, before emissions.

use carbon_core::activity::{bucket_bounds, ActivityQuery, Bucket, Granularity};
use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;
use serde::Serialize;

use super::call::Call;
use crate::connections::db_error;
use crate::http::Reply;
use crate::storage::activity;

#[derive(Serialize)]
struct List<T> {
    data: Vec<T>,
    granularity: &'static str,
    tz: &'static str,
    from: String,
    to: String,
    pagination: carbon_core::query::Pagination,
}

pub async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let q = ActivityQuery::parse(&call.query_pairs()?, ctx.now())?;
    let user = &call.user()?.user_id;
    fn list<T>(q: &ActivityQuery, granularity: &'static str, data: Vec<T>, total: u64) -> List<T> {
        List {
            data,
            granularity,
            tz: q.zone.name(),
            from: timestamp(q.from),
            to: timestamp(q.to),
            pagination: q.page.pagination(total),
        }
    }
    if q.granularity == Granularity::Raw {
        let (rows, total) = activity::raw(&ctx.db, user, &q).await.map_err(db_error)?;
        return Reply::json(200, &list(&q, "raw", rows, total));
    }
    let (rows, total) = activity::buckets(&ctx.db, user, &q)
        .await
        .map_err(db_error)?;
    let granularity = if q.granularity == Granularity::Day {
        "day"
    } else {
        "month"
    };
    let data: Vec<Bucket> = rows
        .into_iter()
        .map(|mut b| {
            if let Some((start, end)) = bucket_bounds(&b.period, q.granularity, q.zone) {
                b.period_start = timestamp(start);
                b.period_end = timestamp(end);
            }
            b
        })
        .collect();
    Reply::json(200, &list(&q, granularity, data, total))
}
