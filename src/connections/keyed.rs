//! Connecting with credentials the user types (API keys, account numbers):
//! validated against the provider before anything is stored.

use carbon_core::datasources::{
    credential_hint, new_id, timestamp, Changes, NewDatasource, Record, Status, View,
};
use carbon_core::error::ApiError;
use carbon_core::providers::{self, Probe};

use super::{db_error, not_found, probe, probe_error, Ctx, Secret};
use crate::random;
use crate::storage::datasources::{self as rows, NewRow};

/// Validates the key with the provider, then stores it encrypted, active.
/// Invalid (422) or provider down (502/503): nothing is written.
pub async fn create(ctx: &Ctx<'_>, user_id: &str, new: NewDatasource) -> Result<View, ApiError> {
    // Refuse before calling the provider when the key could not seal the result.
    ctx.ring()?;
    let i = &new.entry.integration;
    let provider = providers::provider(&i.id)
        .ok_or_else(|| ApiError::internal("validated provider missing"))?;
    let secret = Secret::Fields {
        fields: new.credentials,
    };
    let info = match probe(ctx.env, provider, secret.as_secrets(), &ctx.settings()).await {
        Probe::Ok(info) => info,
        failed => return Err(probe_error(&i.name, failed)),
    };
    let id = new_id("ds", random::bytes());
    let now = timestamp(ctx.now());
    let sealed = ctx.seal(&id, user_id, &secret).await?;
    let Secret::Fields { fields } = &secret else {
        unreachable!()
    };
    let hint = credential_hint(i, fields);
    let settings = new.settings.to_string();
    let provider_info = info.to_string();
    let row = NewRow {
        id: &id,
        user_id,
        integration_id: &i.id,
        display_name: &new.display_name,
        auth_type: i.auth_type.as_str(),
        status: Status::Active.as_str(),
        last_error: None,
        settings: &settings,
        sync_frequency_minutes: new.sync_frequency_minutes,
        credentials: Some(&sealed),
        credential_hint: hint.as_deref(),
        token_expires_at: None,
        tokens_refreshed_at: None,
        provider_info: Some(&provider_info),
        now: &now,
    };
    let entry = ctx.audit(user_id, &id, "connect", Some(&i.id), &now);
    rows::insert(&ctx.db, &row, &entry)
        .await
        .map_err(db_error)?;
    let stored = rows::get(&ctx.db, user_id, &id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(&id))?;
    Ok(stored.into())
}

/// Applies validated changes. New credentials are validated with the
/// provider first and sealed under the active key (which also re-encrypts
/// rows still under a retired key).
pub async fn update(ctx: &Ctx<'_>, rec: Record, changes: Changes) -> Result<View, ApiError> {
    let entry_of = carbon_core::catalog::catalog().get(&rec.integration_id);
    let mut sealed = None;
    let mut hint = None;
    let settings_json = changes.settings.as_ref().map(|s| s.to_string());
    let mut provider_info = None;
    if let (Some(fields), Some(entry)) = (changes.credentials, entry_of) {
        let i = &entry.integration;
        let provider = providers::provider(&i.id).ok_or_else(|| {
            ApiError::unprocessable("credentials", "this integration cannot be connected")
        })?;
        let secret = Secret::Fields { fields };
        match probe(ctx.env, provider, secret.as_secrets(), &ctx.settings()).await {
            Probe::Ok(info) => provider_info = Some(info.to_string()),
            failed => return Err(probe_error(&i.name, failed)),
        }
        let Secret::Fields { fields } = &secret else {
            unreachable!()
        };
        hint = credential_hint(i, fields);
        sealed = Some(ctx.seal(&rec.id, &rec.user_id, &secret).await?);
    }
    let now = timestamp(ctx.now());
    // Valid new credentials make the connection healthy again. `enabled` is
    // its own switch: the health status survives disabling and re-enabling.
    let replaced = sealed.is_some();
    let status = replaced.then_some(Status::Active.as_str());
    let c = rows::Changes {
        display_name: changes.display_name.as_deref(),
        settings: settings_json.as_deref(),
        sync_frequency_minutes: changes.sync_frequency_minutes,
        enabled: changes.enabled,
        status,
        last_error: replaced.then_some(None),
        credentials: sealed.as_deref(),
        credential_hint: hint.as_deref(),
        provider_info: provider_info.as_deref(),
    };
    let detail = if sealed.is_some() {
        "credentials replaced"
    } else {
        "settings"
    };
    let entry = ctx.audit(&rec.user_id, &rec.id, "update", Some(detail), &now);
    let expected = sealed.is_some().then_some(rec.credentials_version);
    if !rows::update(&ctx.db, &rec.user_id, &rec.id, expected, &c, &entry, &now)
        .await
        .map_err(db_error)?
    {
        return Err(ApiError::Conflict {
            detail: "the datasource changed while updating; retry".into(),
        });
    }
    let stored = rows::get(&ctx.db, &rec.user_id, &rec.id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| not_found(&rec.id))?;
    Ok(stored.into())
}
