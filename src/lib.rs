//! The Worker: a thin adapter from Workers APIs (requests, D1, fetch, env) to
//! the platform logic in `carbon-core`. Event handlers hold no logic.

mod app;
mod auth;
mod config;
mod handlers;
mod http;
mod storage;

use worker::{event, Context, Env, Request, Response, Result};

#[event(start)]
fn start() {
    // Log the panic message before the isolate aborts; js/entry.mjs turns
    // the aborted request into an opaque 500 problem response.
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(app::handle(req, env).await)
}
