//! Performs the provider calls that core describes (`HttpRequest`), with a
//! timeout, and returns what came back (`HttpResponse`). Never logs bodies or
//! headers: they carry credentials.

use std::time::Duration;

use carbon_core::providers::{HttpRequest, HttpResponse};
use futures_util::future::{select, Either};
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit};

/// Provider calls that take longer are treated as the provider being down.
const TIMEOUT: Duration = Duration::from_secs(15);

pub async fn send(req: &HttpRequest) -> Result<HttpResponse, String> {
    let headers = Headers::new();
    for (name, value) in &req.headers {
        headers.set(name, value).map_err(|e| e.to_string())?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(req.method.to_owned()))
        .with_headers(headers);
    if let Some(body) = &req.body {
        init.with_body(Some(js_sys::Uint8Array::from(&body[..]).into()));
    }
    let request = Request::new_with_init(&req.url, &init).map_err(|e| e.to_string())?;
    let fetch = Fetch::Request(request);
    let sent = Box::pin(fetch.send());
    let mut response = match select(sent, Delay::from(TIMEOUT)).await {
        Either::Left((result, _)) => result.map_err(|e| format!("provider unreachable: {e}"))?,
        Either::Right(_) => return Err(format!("provider did not answer within {TIMEOUT:?}")),
    };
    let body = response.bytes().await.map_err(|e| e.to_string())?;
    Ok(HttpResponse {
        status: response.status_code(),
        body,
    })
}
