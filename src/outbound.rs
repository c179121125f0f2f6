//! Performs the provider calls that core describes (`HttpRequest`) and
//! returns what came back (`HttpResponse`), within bounds a hostile or broken
//! provider cannot stretch:
//!
//! - one deadline over the whole exchange, headers *and* body: a provider that
//!   sends headers and then dribbles its body is cut off like a silent one
//!   (the fetch is aborted, not just abandoned);
//! - a cap on the response body, counted while it streams in;
//! - `redirect: manual`: a 3xx is never followed, so a refresh token or a
//!   query-string key is never re-sent to wherever a `Location` points.
//!
//! Errors name what went wrong, never the URL (query strings carry keys),
//! headers or body. Nothing here logs.

use std::fmt;
use std::time::Duration;

use carbon_core::providers::{HttpRequest, HttpResponse};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

/// The default deadline for a provider call.
pub const DEADLINE: Duration = Duration::from_secs(15);

/// The largest provider response read (a 25,000-interval Octopus page is
/// about 2.5 MB of JSON).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Why a provider call produced no usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// The request could not be built (a bad configured URL or header).
    Invalid,
    /// Connection refused, reset, DNS failure.
    Unreachable,
    /// The deadline passed before the whole response arrived.
    Timeout(Duration),
    /// The body grew past [`MAX_RESPONSE_BYTES`].
    TooLarge(usize),
    /// The provider answered with a redirect, which is not followed.
    Redirect(u16),
}

impl fmt::Display for OutboundError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutboundError::Invalid => f.write_str("the provider request could not be built"),
            OutboundError::Unreachable => f.write_str("the provider could not be reached"),
            OutboundError::Timeout(d) => {
                write!(f, "the provider did not answer within {}s", d.as_secs())
            }
            OutboundError::TooLarge(limit) => {
                write!(f, "the provider's response exceeded {limit} bytes")
            }
            OutboundError::Redirect(status) => {
                write!(
                    f,
                    "the provider answered a redirect ({status}), which is not followed"
                )
            }
        }
    }
}

impl From<OutboundError> for String {
    fn from(e: OutboundError) -> Self {
        e.to_string()
    }
}

pub async fn send(req: &HttpRequest) -> Result<HttpResponse, OutboundError> {
    send_within(req, DEADLINE).await
}

/// [`send`] with a caller's deadline (a refresh lease must outlive the call).
pub async fn send_within(
    req: &HttpRequest,
    deadline: Duration,
) -> Result<HttpResponse, OutboundError> {
    let headers = Headers::new();
    for (name, value) in &req.headers {
        headers
            .set(name, value)
            .map_err(|_| OutboundError::Invalid)?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(req.method.to_owned()))
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if let Some(body) = &req.body {
        init.with_body(Some(js_sys::Uint8Array::from(&body[..]).into()));
    }
    let request = Request::new_with_init(&req.url, &init).map_err(|_| OutboundError::Invalid)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = Box::pin(async move {
        let fetch = Fetch::Request(request);
        let mut response = fetch
            .send_with_signal(&signal)
            .await
            .map_err(|_| OutboundError::Unreachable)?;
        let status = response.status_code();
        if (300..400).contains(&status) {
            return Err(OutboundError::Redirect(status));
        }
        let headers = response
            .headers()
            .entries()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        let body = read_capped(&mut response, MAX_RESPONSE_BYTES).await?;
        Ok(HttpResponse {
            status,
            body,
            headers,
        })
    });
    match select(exchange, Delay::from(deadline)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            // Frees the connection instead of leaving it to trickle on.
            controller.abort();
            Err(OutboundError::Timeout(deadline))
        }
    }
}

async fn read_capped(
    response: &mut worker::Response,
    cap: usize,
) -> Result<Vec<u8>, OutboundError> {
    let mut stream = match response.stream() {
        Ok(s) => s,
        // No body at all (204, HEAD).
        Err(_) => return Ok(Vec::new()),
    };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| OutboundError::Unreachable)?;
        if body.len() + chunk.len() > cap {
            return Err(OutboundError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
