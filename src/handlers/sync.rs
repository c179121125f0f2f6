//! Syncing a datasource on demand, and its run history.

use carbon_core::error::ApiError;
use carbon_core::query::Page;
use carbon_core::sync::plan::Trigger;
use carbon_core::sync::request::SyncBody;
use carbon_core::sync::run::Run;
use serde::Serialize;

use super::call::Call;
use crate::connections::{db_error, not_found};
use crate::http::Reply;
use crate::storage::{datasources as rows, runs};
use crate::{limits, sync};

/// POST /api/v1/datasources/{id}/sync
pub async fn start(call: &Call<'_>) -> Result<Reply, ApiError> {
    let body = if call.body.is_empty() {
        SyncBody::default()
    } else {
        call.json::<SyncBody>()?
    };
    let ctx = call.services()?;
    let request = body.validate(ctx.now())?;
    let user = &call.user()?.user_id;
    let id = call.param("id");
    let rec = rows::get(&ctx.db, user, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(id))?;
    if !carbon_core::providers::support(&rec.integration_id).sync {
        return Err(ApiError::Conflict {
            detail: "this integration cannot sync yet".into(),
        });
    }
    if rec.enabled == 0 || rec.status != "active" {
        return Err(ApiError::Conflict {
            detail: format!(
                "this datasource cannot sync while it is {}",
                if rec.enabled == 0 {
                    "disabled"
                } else {
                    &rec.status
                }
            ),
        });
    }
    limits::take(call.env, limits::DATASOURCE_CALLS, &rec.id).await?;
    limits::take(call.env, limits::PROVIDER_CALLS, user).await?;
    let run = sync::start(
        &ctx,
        &rec,
        Trigger::Manual,
        request.mode,
        request.from,
        request.to,
    )
    .await?;
    run_reply(202, &run)
}

/// A run as the answer, with its `Location`.
pub fn run_reply(status: u16, run: &Run) -> Result<Reply, ApiError> {
    let mut reply = Reply::json(status, run)?;
    reply.headers.push((
        "Location",
        format!(
            "/api/v1/datasources/{}/sync-runs/{}",
            run.datasource_id, run.id
        ),
    ));
    Ok(reply)
}

/// GET /api/v1/datasources/{id}/sync-runs
pub async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    #[derive(Serialize)]
    struct List {
        data: Vec<Run>,
        pagination: carbon_core::query::Pagination,
    }
    let page = Page::parse(&call.query_pairs()?, 20, 100)?;
    let ctx = call.services()?;
    let user = &call.user()?.user_id;
    let id = call.param("id");
    rows::get(&ctx.db, user, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(id))?;
    let (data, total) = runs::list(&ctx.db, user, id, page.per_page, page.offset())
        .await
        .map_err(db_error)?;
    Reply::json(
        200,
        &List {
            data,
            pagination: page.pagination(total),
        },
    )
}

/// GET /api/v1/datasources/{id}/sync-runs/{run_id}
pub async fn get(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let user = &call.user()?.user_id;
    let run_id = call.param("run_id");
    let run = runs::get(&ctx.db, user, call.param("id"), run_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::not_found(format!("no sync run with id {run_id:?}")))?;
    Reply::json(200, &run)
}
