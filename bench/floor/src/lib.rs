//! Constant JSON, as the JS baseline answers it: the cheapest response a
//! workers-rs Worker can give, for the bench to compare our routes with.

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(_req: Request, _env: Env, _ctx: Context) -> Result<Response> {
    let mut response = Response::from_bytes(br#"{"ok":true}"#.to_vec())?;
    response
        .headers_mut()
        .set("Content-Type", "application/json")?;
    Ok(response)
}
