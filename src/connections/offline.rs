//! Datasources people feed themselves (file uploads, typed readings):
//! nothing to validate with a provider and nothing to encrypt. They are
//! active from the start and never scheduled.

use carbon_core::datasources::{new_id, timestamp, NewDatasource, View};
use carbon_core::error::ApiError;

use super::{db_error, not_found, Ctx};
use crate::random;
use crate::storage::datasources::{self as rows, NewRow};

pub async fn create(ctx: &Ctx<'_>, user_id: &str, new: NewDatasource) -> Result<View, ApiError> {
    let i = &new.entry.integration;
    let id = new_id("ds", random::bytes());
    let now = timestamp(ctx.now());
    let settings = new.settings.to_string();
    let row = NewRow {
        id: &id,
        user_id,
        integration_id: &i.id,
        display_name: &new.display_name,
        auth_type: i.auth_type.as_str(),
        status: "active",
        last_error: None,
        settings: &settings,
        sync_frequency_minutes: new.sync_frequency_minutes,
        credentials: None,
        credential_hint: None,
        token_expires_at: None,
        tokens_refreshed_at: None,
        provider_info: None,
        now: &now,
    };
    let entry = ctx.audit(user_id, &id, "connect", Some(&i.id), &now);
    rows::insert(&ctx.db, &row, &entry)
        .await
        .map_err(db_error)?;
    rows::get(&ctx.db, user_id, &id)
        .await
        .map_err(db_error)?
        .map(View::from)
        .ok_or_else(|| not_found(&id))
}
