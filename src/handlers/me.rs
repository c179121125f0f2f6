use carbon_core::auth::Session;
use carbon_core::error::ApiError;
use serde::Serialize;

use crate::http::Reply;

#[derive(Serialize)]
struct Me<'a> {
    user_id: &'a str,
    session_id: Option<&'a str>,
}

/// GET /api/v1/me
pub fn get(session: &Session) -> Result<Reply, ApiError> {
    Reply::json(
        200,
        &Me {
            user_id: &session.user_id,
            session_id: session.session_id.as_deref(),
        },
    )
}
