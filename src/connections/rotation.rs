//! Finishing a key rotation: rows still sealed under a retired key are
//! re-sealed under the active one, in batches, by the scheduled job,
//! whatever their status (rows that are never used must not keep a retired
//! key alive forever). Rows that are used are re-sealed on read already
//! (`Ctx::open`).

use carbon_core::crypto::{self, credentials_aad, CryptoError};
use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;

use super::{db_error, Ctx};
use crate::crypto::WebCrypto;
use crate::storage::credentials as creds;

/// Rows re-sealed per run: one decrypt, one encrypt and one D1 batch each.
const BATCH: u32 = 100;

/// What one run did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Resealed {
    pub resealed: u32,
    /// Under a key nobody configured (a configuration fault to fix).
    pub unknown_key: u32,
    /// Failing authentication: left for `Ctx::open` to flag when used.
    pub unreadable: u32,
}

pub async fn reseal_batch(ctx: &Ctx<'_>) -> Result<Resealed, ApiError> {
    let ring = ctx.ring()?;
    let prefix = format!("v1.{}.", ring.active().id());
    let stale = creds::under_other_keys(&ctx.db, &prefix, BATCH)
        .await
        .map_err(db_error)?;
    let mut done = Resealed::default();
    let at = timestamp(ctx.now());
    for rec in stale {
        let Some(envelope) = rec.credentials.as_deref() else {
            continue;
        };
        let aad = credentials_aad(&rec.id, &rec.user_id);
        match crypto::open(&WebCrypto, ring, &aad, envelope).await {
            Ok(opened) => {
                if ctx.reseal(&rec, envelope, &opened.plaintext, &at).await? {
                    done.resealed += 1;
                }
            }
            Err(CryptoError::UnknownKey(_)) => done.unknown_key += 1,
            Err(_) => done.unreadable += 1,
        }
    }
    Ok(done)
}
