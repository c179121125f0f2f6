//! A signed-in user's connections. Every lookup is scoped to the token's
//! user: another user's datasource id is a 404, like a missing one.

use carbon_core::datasources::{AuthorizeBody, CreateBody, Record, UpdateBody, View};
use carbon_core::error::ApiError;
use carbon_core::query::Page;
use serde::Serialize;

use super::call::Call;
use crate::connections::{self, db_error, keyed, manage, not_found, offline, Ctx};
use crate::http::Reply;
use crate::limits;
use crate::storage::{audit, datasources as rows};

pub(super) async fn owned(ctx: &Ctx<'_>, call: &Call<'_>) -> Result<Record, ApiError> {
    let id = call.param("id");
    rows::get(&ctx.db, &call.user()?.user_id, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(id))
}

/// POST /api/v1/datasources
pub async fn create(call: &Call<'_>) -> Result<Reply, ApiError> {
    let new = call.json::<CreateBody>()?.validate()?;
    let user = &call.user()?.user_id;
    limits::take(call.env, limits::CONNECT, user).await?;
    let ctx = call.services()?;
    let view = if new.entry.integration.auth_type.fed_by_people() {
        offline::create(&ctx, user, new).await?
    } else {
        limits::take(call.env, limits::PROVIDER_CALLS, user).await?;
        keyed::create(&ctx, user, new).await?
    };
    let mut reply = Reply::json(201, &view)?;
    reply
        .headers
        .push(("Location", format!("/api/v1/datasources/{}", view.id)));
    Ok(reply)
}

#[derive(Serialize)]
struct List {
    data: Vec<View>,
    pagination: carbon_core::query::Pagination,
}

/// GET /api/v1/datasources
pub async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let page = Page::parse(&call.query_pairs()?, 20, 100)?;
    let ctx = call.services()?;
    let (rows, total) = rows::list(&ctx.db, &call.user()?.user_id, page.per_page, page.offset())
        .await
        .map_err(db_error)?;
    Reply::json(
        200,
        &List {
            data: rows.into_iter().map(View::from).collect(),
            pagination: page.pagination(total),
        },
    )
}

/// GET /api/v1/datasources/{id}
pub async fn get(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let mut view = View::from(owned(&ctx, call).await?);
    view.streams = Some(
        crate::storage::runs::streams(&ctx.db, &view.id)
            .await
            .map_err(db_error)?,
    );
    Reply::json(200, &view)
}

/// PUT /api/v1/datasources/{id}
pub async fn update(call: &Call<'_>) -> Result<Reply, ApiError> {
    let body = call.json::<UpdateBody>()?;
    let ctx = call.services()?;
    let rec = owned(&ctx, call).await?;
    let integration =
        &carbon_core::datasources::integration(&rec.integration_id, "integration_id")?.integration;
    let changes = body.validate(integration)?;
    if changes.credentials.is_some() {
        // New credentials are checked with the provider: the same brakes
        // as connecting.
        limits::take(call.env, limits::CONNECT, &rec.user_id).await?;
        limits::take(call.env, limits::PROVIDER_CALLS, &rec.user_id).await?;
    }
    let settings = changes.settings.as_ref().map(|s| s.to_string());
    let id = rec.id.clone();
    let view = keyed::update(&ctx, rec, changes).await?;
    if let Some(settings) = settings {
        // The lines follow the settings at once (market instrument, pinned
        // edition...); if this fails the cron finishes it.
        if let Err(e) = crate::emissions::recompute(&ctx, &id, &settings, 0, None).await {
            worker::console_error!(
                "{}",
                serde_json::json!({"level": "error", "msg": "emissions recompute", "datasource_id": id, "error": e.to_string()})
            );
        }
    }
    Reply::json(200, &view)
}

/// DELETE /api/v1/datasources/{id}
pub async fn delete(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    manage::delete(&ctx, owned(&ctx, call).await?).await?;
    Ok(Reply::empty(204, Vec::new()))
}

/// POST /api/v1/datasources/{id}/check
pub async fn check(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let rec = owned(&ctx, call).await?;
    limits::take(call.env, limits::DATASOURCE_CALLS, &rec.id).await?;
    limits::take(call.env, limits::PROVIDER_CALLS, &rec.user_id).await?;
    Reply::json(200, &manage::check(&ctx, rec).await?)
}

/// GET /api/v1/datasources/{id}/audit
pub async fn audit(call: &Call<'_>) -> Result<Reply, ApiError> {
    #[derive(Serialize)]
    struct Audit {
        data: Vec<audit::Row>,
    }
    let ctx = call.services()?;
    let user = &call.user()?.user_id;
    let id = call.param("id");
    // The trail outlives the datasource, so deleted ones stay readable.
    let data = audit::list(&ctx.db, user, id, 200)
        .await
        .map_err(db_error)?;
    if data.is_empty() {
        return Err(not_found(id));
    }
    Reply::json(200, &Audit { data })
}

/// POST /api/v1/datasources/oauth/authorize
pub async fn authorize(call: &Call<'_>) -> Result<Reply, ApiError> {
    let body = call.json::<AuthorizeBody>()?;
    limits::take(call.env, limits::PROVIDER_CALLS, &call.user()?.user_id).await?;
    let ctx = call.services()?;
    let base = super::oauth::public_base(call)?;
    let auth = connections::oauth::authorize(&ctx, &call.user()?.user_id, body, &base).await?;
    Reply::json(201, &auth)
}
