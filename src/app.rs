//! The request pipeline: request id, CORS, routing (404/405), body checks,
//! authentication, dispatch, one problem shape for every failure, and one
//! structured log line per request.

use carbon_core::body::{self, BodyHeaders};
use carbon_core::cors::CorsPolicy;
use carbon_core::error::ApiError;
use carbon_core::log::{level_for, RequestLog};
use carbon_core::routes::{self, Access, RouteId, RouteMatch};
use std::future::Future;
use std::pin::Pin;

use worker::{Env, Request, Response};

use crate::handlers::call::Call;
use crate::http::Reply;
use crate::storage::StatementCount;
use crate::{auth, config, handlers};

/// 128 random bits, hex: unique enough to find one request in the logs.
fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        return format!("t{}", js_sys::Date::now() as u64);
    }
    let mut id = String::with_capacity(32);
    for b in bytes {
        id.push(HEX[(b >> 4) as usize] as char);
        id.push(HEX[(b & 15) as usize] as char);
    }
    id
}

/// Runs the request pipeline's pure parts once while the isolate starts
/// (`#[event(start)]`): the catalog and its unfiltered list body, URL
/// parsing, routing, a request id and a log line. V8 compiles wasm lazily,
/// function by function, on first call; on Workers an isolate starts while
/// the TLS handshake is under way, so this moves that one-off work off the
/// first request. Nothing here reads `env` or does I/O.
pub fn warm() {
    handlers::integrations::warm();
    if let Ok(url) = worker::Url::parse("https://warm.invalid/api/v1/integrations?q=warm") {
        let _ = routes::best_pattern(url.path());
        let _ = routes::resolve("GET", url.path());
    }
    let request_id = new_request_id();
    let _ = RequestLog {
        level: level_for(200),
        msg: "request",
        request_id: &request_id,
        method: "GET",
        route: "/api/v1/integrations",
        status: 200,
        duration_ms: 0,
        user_id: None,
        d1_statements: 0,
        error: None,
    }
    .to_line();
}

/// Panics on purpose when `TEST_PANIC_ROUTE=enabled`, so the black-box tests
/// can prove a panic still answers in the API's error shape. Outside the route
/// table: without that setting it is an unknown path like any other.
const TEST_PANIC_PATH: &str = "/api/v1/_test/panic";

/// What the log line needs to know about how the request went.
#[derive(Default)]
struct Outcome {
    route: Option<&'static str>,
    user_id: Option<String>,
    preflight: bool,
    statements: StatementCount,
    /// An internal cause a handler answered without an error.
    failure: std::cell::RefCell<Option<String>>,
}

pub async fn handle(req: Request, env: Env) -> Response {
    let started = js_sys::Date::now();
    let request_id = new_request_id();
    // The method as sent: workers-rs maps a method it does not know (QUERY,
    // PROPFIND...) to GET, which would serve it as a GET.
    let method = req.inner().method();
    // Parsed once: the path routes, the query goes to the handler.
    let url = req.url().ok();
    let path = url
        .as_ref()
        .map_or_else(String::new, |u| u.path().to_owned());
    let origin = req.headers().get("Origin").ok().flatten();
    let mut outcome = Outcome::default();

    let policy = config::cors_policy(&env);
    let cors =
        config::deployment(&env).and_then(|()| policy.as_ref().as_ref().map_err(String::clone));
    let result = match &cors {
        Ok(cors) => {
            let incoming = Incoming {
                method: &method,
                path: &path,
                url: url.as_ref(),
                origin: origin.as_deref(),
                request_id: &request_id,
            };
            dispatch(req, &env, cors, incoming, &mut outcome).await
        }
        Err(e) => Err(ApiError::internal(format!("configuration: {e}"))),
    };
    let mut internal_cause = outcome.failure.borrow_mut().take();
    let reply = result.unwrap_or_else(|err| {
        if let ApiError::Internal { cause } = &err {
            internal_cause = Some(cause.clone());
        }
        Reply::problem(&err, &path, &request_id)
    });

    let mut extra = vec![("X-Request-Id", request_id.clone())];
    if let (Ok(cors), false) = (&cors, outcome.preflight) {
        extra.extend(cors.response_headers(origin.as_deref()));
    }
    let line = RequestLog {
        level: level_for(reply.status),
        msg: "request",
        request_id: &request_id,
        method: &method,
        route: outcome.route.unwrap_or("unmatched"),
        status: reply.status,
        duration_ms: (js_sys::Date::now() - started).max(0.0) as u64,
        user_id: outcome.user_id.as_deref(),
        d1_statements: outcome.statements.get(),
        error: internal_cause.as_deref(),
    }
    .to_line();
    if reply.status >= 500 {
        worker::console_error!("{line}");
    } else {
        worker::console_log!("{line}");
    }
    reply.into_response(&extra, method == "HEAD")
}

/// What the pipeline read off the request before dispatching it.
struct Incoming<'a> {
    method: &'a str,
    path: &'a str,
    url: Option<&'a worker::Url>,
    origin: Option<&'a str>,
    request_id: &'a str,
}

async fn dispatch(
    mut req: Request,
    env: &Env,
    cors: &CorsPolicy,
    incoming: Incoming<'_>,
    outcome: &mut Outcome,
) -> Result<Reply, ApiError> {
    let Incoming {
        method,
        path,
        url,
        origin,
        request_id,
    } = incoming;
    if path == TEST_PANIC_PATH
        && config::env_string(env, "TEST_PANIC_ROUTE").as_deref() == Some("enabled")
    {
        panic!("deliberate panic: TEST_PANIC_ROUTE is enabled");
    }
    if method == "OPTIONS" {
        outcome.preflight = true;
        return options(&req, cors, path, origin, outcome);
    }
    let Some(pattern) = routes::best_pattern(path) else {
        return Err(ApiError::not_found(format!("no route for {path}")));
    };
    outcome.route = Some(pattern);
    // Bodies are checked before the method: whatever a known path is sent,
    // it accepts its media type within its limit only, and what the headers
    // already show is wrong is refused before any other work.
    let policy = routes::body_policy(pattern);
    check_body_headers(&req, policy)?;
    let (route, params) = match routes::resolve_pattern(method, pattern, path) {
        RouteMatch::Found(route, params) => (route, params),
        RouteMatch::MethodNotAllowed(allow) => return Err(ApiError::MethodNotAllowed { allow }),
        RouteMatch::NotFound => return Err(ApiError::not_found(format!("no route for {path}"))),
    };
    let session = match route.access {
        Access::User => Some(auth::authenticate(&req, env).await?),
        Access::Public => None,
    };
    outcome.user_id = session.as_ref().map(|s| s.user_id.clone());
    let body = if matches!(method, "POST" | "PUT" | "PATCH") {
        read_body(&mut req, policy).await?
    } else {
        Vec::new()
    };
    let call = Call {
        req: &req,
        url,
        env,
        params: &params,
        body: &body,
        session: session.as_ref(),
        request_id,
        statements: &outcome.statements,
        failure: &outcome.failure,
    };
    route_to(route.id, &call).await
}

/// A route's handler as its own future. Each is boxed, so the pipeline's
/// state machine holds one pointer instead of the largest handler's state,
/// and each handler is compiled as its own function: the first request to a
/// route compiles that route's code only (V8 compiles wasm lazily).
type Handler<'a> = Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + 'a>>;

fn ready<'a>(result: Result<Reply, ApiError>) -> Handler<'a> {
    Box::pin(std::future::ready(result))
}

fn route_to<'a>(id: RouteId, call: &'a Call<'a>) -> Handler<'a> {
    use handlers::{datasources as ds, integrations, oauth};
    match id {
        RouteId::Health => Box::pin(handlers::health::get(call.env, call.statements)),
        RouteId::OpenApi => ready(Ok(handlers::openapi::get())),
        RouteId::Me => ready(call.user().and_then(handlers::me::get)),
        RouteId::IntegrationsList => ready(integrations::list(call)),
        RouteId::IntegrationCategories => ready(integrations::categories(call)),
        RouteId::IntegrationGet => ready(integrations::get(call)),
        RouteId::DatasourceCreate => Box::pin(ds::create(call)),
        RouteId::DatasourceList => Box::pin(ds::list(call)),
        RouteId::DatasourceGet => Box::pin(ds::get(call)),
        RouteId::DatasourceUpdate => Box::pin(ds::update(call)),
        RouteId::DatasourceDelete => Box::pin(ds::delete(call)),
        RouteId::DatasourceCheck => Box::pin(ds::check(call)),
        RouteId::DatasourceAudit => Box::pin(ds::audit(call)),
        RouteId::DatasourceSync => Box::pin(handlers::sync::start(call)),
        RouteId::SyncRunList => Box::pin(handlers::sync::list(call)),
        RouteId::SyncRunGet => Box::pin(handlers::sync::get(call)),
        RouteId::UploadCreate => Box::pin(handlers::uploads::upload(call)),
        RouteId::ReadingsCreate => Box::pin(handlers::uploads::readings(call)),
        RouteId::WebhookGeneric => Box::pin(handlers::webhooks::generic(call)),
        RouteId::WebhookXero => Box::pin(handlers::webhooks::xero(call)),
        RouteId::WebhookOctopus => Box::pin(handlers::webhooks::supplier(call, "octopus-energy")),
        RouteId::WebhookBritishGas => Box::pin(handlers::webhooks::supplier(call, "british-gas")),
        RouteId::WebhookEndpointCreate => Box::pin(handlers::webhooks::create(call)),
        RouteId::WebhookEndpointList => Box::pin(handlers::webhooks::list(call)),
        RouteId::WebhookEndpointRotate => Box::pin(handlers::webhooks::rotate(call)),
        RouteId::WebhookEndpointDelete => Box::pin(handlers::webhooks::delete(call)),
        RouteId::WebhookDeliveries => Box::pin(handlers::webhooks::deliveries(call)),
        RouteId::UploadTemplates => ready(handlers::uploads::templates()),
        RouteId::UploadTemplate => ready(handlers::uploads::template(call)),
        RouteId::ActivityList => Box::pin(handlers::activity::list(call)),
        RouteId::EmissionsSummary => Box::pin(handlers::emissions::summary(call)),
        RouteId::EmissionsList => Box::pin(handlers::emissions::list(call)),
        RouteId::EmissionFactors => Box::pin(handlers::factors::list(call)),
        RouteId::OAuthAuthorize => Box::pin(ds::authorize(call)),
        RouteId::OAuthCallback => Box::pin(oauth::callback(call)),
        RouteId::OAuthComplete => Box::pin(oauth::complete(call)),
    }
}

/// Every body this API accepts is JSON within [`body::JSON_BODY_LIMIT`], but
/// for files on the upload route; what the headers already show is wrong is
/// refused before anything else runs.
fn check_body_headers(req: &Request, policy: body::BodyPolicy) -> Result<(), ApiError> {
    let headers = req.headers();
    let content_type = headers.get("Content-Type").ok().flatten();
    let content_length = headers
        .get("Content-Length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = headers.has("Transfer-Encoding").unwrap_or(false);
    body::check_headers(
        &BodyHeaders {
            content_type: content_type.as_deref(),
            content_length,
            chunked,
        },
        policy,
    )
}

/// Reads the body as it streams in, counting, and stops at `limit`: a body
/// with no `Content-Length` (chunked, HTTP/2) gets no further than a
/// declared one, so one client cannot make the isolate buffer 100 MB.
async fn read_body(req: &mut Request, policy: body::BodyPolicy) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let content_type = req.headers().get("Content-Type").ok().flatten();
    // No body at all: `stream()` has nothing to give.
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        body::check_streamed(bytes.len() + chunk.len(), content_type.as_deref(), policy)?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// OPTIONS: a CORS preflight when the browser sent one, otherwise a plain
/// answer listing the path's methods.
fn options(
    req: &Request,
    cors: &CorsPolicy,
    path: &str,
    origin: Option<&str>,
    outcome: &mut Outcome,
) -> Result<Reply, ApiError> {
    let pattern = routes::best_pattern(path)
        .ok_or_else(|| ApiError::not_found(format!("no route for {path}")))?;
    outcome.route = Some(pattern);
    let methods = routes::allowed_methods(pattern);
    let requested = req
        .headers()
        .get("Access-Control-Request-Method")
        .ok()
        .flatten();
    let (Some(origin), Some(requested)) = (origin, requested) else {
        return Ok(Reply::empty(204, vec![("Allow", methods.join(", "))]));
    };
    let requested_headers = req
        .headers()
        .get("Access-Control-Request-Headers")
        .ok()
        .flatten();
    let headers = cors
        .preflight_headers(origin, &requested, requested_headers.as_deref(), &methods)
        .unwrap_or_else(|| vec![("Vary", "Origin".to_owned())]);
    Ok(Reply::empty(204, headers))
}
