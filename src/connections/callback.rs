//! The OAuth callback, the public half: the provider sends the browser back
//! here with `state` and `code` (or an error). Nothing is exchanged or
//! stored: the page relays the answer to the frontend window, which
//! completes the connection as the signed-in user (`complete.rs`). The
//! state is only looked at, so a stale link says so at once.

use carbon_core::datasources::timestamp;
use carbon_core::error::ApiError;
use carbon_core::oauth::state_hash;
use carbon_core::oauth_page::Outcome;
use carbon_core::providers::sanitize;

use super::{db_error, Ctx};
use crate::storage::oauth_states;

/// The provider's redirect back, as query parameters.
#[derive(Debug, Default)]
pub struct CallbackParams {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

pub fn invalid_state() -> ApiError {
    ApiError::bad_request(
        "invalid_state: the authorization request is unknown, used, expired or not yours",
    )
}

/// What the page relays. `Ok` is `authorized`, `cancelled` or the
/// provider's refusal (`error`); an unknown, used or expired state, or a
/// redirect with neither a code nor an error, is an error the handler shows
/// as a page or a problem document.
pub async fn callback(
    ctx: &Ctx<'_>,
    integration_id: &str,
    params: CallbackParams,
) -> Result<Outcome, ApiError> {
    let Some(state) = params.state.filter(|s| !s.is_empty() && s.len() <= 2048) else {
        return Err(invalid_state());
    };
    let pending = oauth_states::is_pending(
        &ctx.db,
        &state_hash(&state),
        integration_id,
        &timestamp(ctx.now()),
    )
    .await
    .map_err(db_error)?;
    if !pending {
        return Err(invalid_state());
    }
    if let Some(error) = params.error {
        if error == "access_denied" {
            return Ok(Outcome::cancelled(integration_id, state));
        }
        let detail = params
            .error_description
            .map(|d| format!("{error}: {d}"))
            .unwrap_or(error);
        // Relayed like a cancellation: the callback did its job, and the
        // frontend learns why at once instead of from a closed popup.
        return Ok(Outcome::error(format!(
            "the provider refused: {}",
            sanitize(&detail)
        )));
    }
    match params.code.filter(|c| !c.is_empty() && c.len() <= 2048) {
        Some(code) => Ok(Outcome::authorized(integration_id, state, code)),
        None => Err(ApiError::bad_request(
            "the provider sent neither a code nor an error",
        )),
    }
}
