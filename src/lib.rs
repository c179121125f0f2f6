//! The Worker: a thin adapter from Workers APIs (requests, D1, fetch, env) to
//! the platform logic in `carbon-core`. Event handlers hold no logic.

mod app;
mod auth;
mod clock;
mod config;
mod connections;
mod crypto;
mod handlers;
mod http;
mod limits;
mod outbound;
mod random;
mod scheduled;
mod storage;

use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{event, Context, Env, Request, Response, Result, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        // The message and stack go to the log first.
        console_error_panic_hook::hook(info);
        // A panic aborts the wasm instance, so the promises of requests in
        // flight would never settle and the runtime would answer a plain-text
        // 500 after declaring them hung. js/entry.mjs installs this callback
        // to answer them at once with an opaque problem-details 500 instead.
        let callback = js_sys::Reflect::get(&js_sys::global(), &"__carbonOnPanic".into());
        if let Ok(callback) = callback.and_then(|f| f.dyn_into::<js_sys::Function>()) {
            let _ = callback.call0(&JsValue::NULL);
        }
    }));
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(app::handle(req, env).await)
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    scheduled::run(&event.cron(), &env).await;
}
