//! The request pipeline: request id, CORS, routing (404/405), body checks,
//! authentication, dispatch, one problem shape for every failure, and one
//! structured log line per request.

use carbon_core::body::{self, BodyHeaders};
use carbon_core::cors::CorsPolicy;
use carbon_core::error::ApiError;
use carbon_core::log::{level_for, RequestLog};
use carbon_core::routes::{self, Access, RouteId, RouteMatch};
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
    let method = req.method().to_string();
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
    let (route, params) = match routes::resolve(method, path) {
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

async fn route_to(id: RouteId, call: &Call<'_>) -> Result<Reply, ApiError> {
    use handlers::{datasources as ds, integrations, oauth};
    match id {
        RouteId::Health => handlers::health::get(call.env, call.statements).await,
        RouteId::OpenApi => Ok(handlers::openapi::get()),
        RouteId::Me => handlers::me::get(call.user()?),
        RouteId::IntegrationsList => integrations::list(call),
        RouteId::IntegrationCategories => integrations::categories(call),
        RouteId::IntegrationGet => integrations::get(call),
        RouteId::DatasourceCreate => ds::create(call).await,
        RouteId::DatasourceList => ds::list(call).await,
        RouteId::DatasourceGet => ds::get(call).await,
        RouteId::DatasourceUpdate => ds::update(call).await,
        RouteId::DatasourceDelete => ds::delete(call).await,
        RouteId::DatasourceCheck => ds::check(call).await,
        RouteId::DatasourceAudit => ds::audit(call).await,
        RouteId::DatasourceSync => handlers::sync::start(call).await,
        RouteId::SyncRunList => handlers::sync::list(call).await,
        RouteId::SyncRunGet => handlers::sync::get(call).await,
        RouteId::UploadCreate => handlers::uploads::upload(call).await,
        RouteId::ReadingsCreate => handlers::uploads::readings(call).await,
        RouteId::WebhookGeneric => handlers::webhooks::generic(call).await,
        RouteId::WebhookXero => handlers::webhooks::xero(call).await,
        RouteId::WebhookOctopus => handlers::webhooks::supplier(call, "octopus-energy").await,
        RouteId::WebhookBritishGas => handlers::webhooks::supplier(call, "british-gas").await,
        RouteId::WebhookEndpointCreate => handlers::webhooks::create(call).await,
        RouteId::WebhookEndpointList => handlers::webhooks::list(call).await,
        RouteId::WebhookEndpointRotate => handlers::webhooks::rotate(call).await,
        RouteId::WebhookEndpointDelete => handlers::webhooks::delete(call).await,
        RouteId::WebhookDeliveries => handlers::webhooks::deliveries(call).await,
        RouteId::UploadTemplates => handlers::uploads::templates(),
        RouteId::UploadTemplate => handlers::uploads::template(call),
        RouteId::ActivityList => handlers::activity::list(call).await,
        RouteId::EmissionsSummary => handlers::emissions::summary(call).await,
        RouteId::EmissionsList => handlers::emissions::list(call).await,
        RouteId::EmissionFactors => handlers::factors::list(call).await,
        RouteId::OAuthAuthorize => ds::authorize(call).await,
        RouteId::OAuthCallback => oauth::callback(call).await,
        RouteId::OAuthComplete => oauth::complete(call).await,
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
