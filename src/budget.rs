//! The per-provider-app call budget (`carbon_core::budget`) as a Durable
//! Object: one instance per provider app, one writer, so two consumers can
//! never both take the last call of a window. A slice asks for its calls
//! before making any (`take`); a provider 429 closes the budget (`close`).

use carbon_core::budget::{Budget, Grant, Limit};
use carbon_core::error::ApiError;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Method, Request, RequestInit, Response, State};

pub const BINDING: &str = "PROVIDER_BUDGET";
const KEY: &str = "budget";

#[derive(Serialize, Deserialize)]
struct Ask {
    want: u32,
    limits: Vec<Limit>,
    /// Set to close the budget until this unix second instead.
    close_until: Option<i64>,
    now: i64,
}

#[durable_object]
pub struct ProviderBudget {
    state: State,
}

impl DurableObject for ProviderBudget {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let ask: Ask = req.json().await?;
        let storage = self.state.storage();
        let mut budget: Budget = storage.get(KEY).await?.unwrap_or_default();
        let grant = match ask.close_until {
            Some(until) => {
                budget.close(until);
                Grant {
                    calls: 0,
                    retry_after: None,
                }
            }
            None => budget.take(ask.want, &ask.limits, ask.now),
        };
        storage.put(KEY, &budget).await?;
        Response::from_json(&grant)
    }
}

async fn call(env: &Env, app: &str, ask: &Ask) -> Result<Grant, ApiError> {
    let stub = env
        .durable_object(BINDING)
        .and_then(|ns| ns.get_by_name(app))
        .map_err(|e| ApiError::internal(format!("durable object {BINDING}: {e}")))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(ask).unwrap_or_default().into()));
    let req = Request::new_with_init("https://budget.internal/", &init)
        .map_err(|e| ApiError::internal(format!("budget request: {e}")))?;
    let mut resp =
        stub.fetch_with_request(req)
            .await
            .map_err(|e| ApiError::ServiceUnavailable {
                detail: format!("the provider call budget is unavailable: {e}"),
            })?;
    resp.json::<Grant>()
        .await
        .map_err(|e| ApiError::internal(format!("budget answer: {e}")))
}

/// Up to `want` calls for provider app `app` within `limits`.
pub async fn take(env: &Env, app: &str, want: u32, limits: &[Limit]) -> Result<Grant, ApiError> {
    let now = crate::clock::now().timestamp();
    call(
        env,
        app,
        &Ask {
            want,
            limits: limits.to_vec(),
            close_until: None,
            now,
        },
    )
    .await
}

/// The provider refused calls until `until` (unix seconds).
pub async fn close(env: &Env, app: &str, until: i64) -> Result<(), ApiError> {
    let now = crate::clock::now().timestamp();
    call(
        env,
        app,
        &Ask {
            want: 0,
            limits: Vec::new(),
            close_until: Some(until),
            now,
        },
    )
    .await
    .map(|_| ())
}
