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
enum Ask {
    /// Up to `want` calls, counted at the object's own clock (one clock
    /// for every consumer, however late their requests arrive).
    Take { want: u32, limits: Vec<Limit> },
    /// Calls granted at `taken_at` and never sent.
    GiveBack {
        calls: u32,
        limits: Vec<Limit>,
        taken_at: i64,
    },
    /// The provider refused calls until this unix second.
    Close { until: i64 },
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
        let now = crate::clock::now().timestamp();
        let nothing = Grant {
            calls: 0,
            retry_after: None,
            at: now,
            until: now,
        };
        let grant = match ask {
            Ask::Take { want, limits } => budget.take(want, &limits, now),
            Ask::GiveBack {
                calls,
                limits,
                taken_at,
            } => {
                budget.give_back(calls, &limits, taken_at);
                nothing
            }
            Ask::Close { until } => {
                budget.close(until);
                nothing
            }
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

/// Up to `want` calls for provider app `app` within `limits`; give back
/// what is not sent with the grant's `at`.
pub async fn take(env: &Env, app: &str, want: u32, limits: &[Limit]) -> Result<Grant, ApiError> {
    let limits = limits.to_vec();
    call(env, app, &Ask::Take { want, limits }).await
}

/// Returns `calls` taken at `taken_at` that were never sent.
pub async fn give_back(
    env: &Env,
    app: &str,
    calls: u32,
    limits: &[Limit],
    taken_at: i64,
) -> Result<(), ApiError> {
    let limits = limits.to_vec();
    let ask = Ask::GiveBack {
        calls,
        limits,
        taken_at,
    };
    call(env, app, &ask).await.map(|_| ())
}

/// The provider refused calls until `until` (unix seconds).
pub async fn close(env: &Env, app: &str, until: i64) -> Result<(), ApiError> {
    call(env, app, &Ask::Close { until }).await.map(|_| ())
}
