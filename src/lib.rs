//! The Worker: a thin adapter from Workers APIs (requests, D1, fetch, env) to
//! the platform logic in `carbon-core`. Event handlers hold no logic.

mod app;
mod auth;
mod budget;
mod clock;
mod config;
mod connections;
mod crypto;
mod emissions;
mod handlers;
mod http;
mod intensity;
mod limits;
mod outbound;
mod random;
mod scheduled;
mod storage;
mod sync;
mod webhooks;

use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{
    event, Context, Env, MessageBatch, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

#[event(start)]
fn start() {
    app::warm();
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

/// The sync queue: one slice per message, each acknowledged on its own.
/// Never returns `Err` (that would fail the isolate): a slice that cannot
/// run is retried by the queue, up to its dead-letter queue.
#[event(queue)]
async fn queue(batch: MessageBatch<sync::SyncMessage>, env: Env, _ctx: Context) -> Result<()> {
    scheduled::consume(batch, &env).await;
    Ok(())
}
