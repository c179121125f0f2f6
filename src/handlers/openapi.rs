use crate::http::Reply;

/// GET /api/v1/openapi.json
pub fn get() -> Reply {
    let mut reply = Reply::raw_json(200, carbon_core::openapi::DOCUMENT);
    reply
        .headers
        .push(("Cache-Control", "public, max-age=300".to_owned()));
    reply
}
