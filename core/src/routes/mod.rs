//! The route table: every path the API serves, its methods and who may call it.
//!
//! One table drives dispatch, 404/405 answers (with `Allow`), CORS preflight
//! and the OpenAPI completeness test, so none of them can drift from another.
//! Patterns use OpenAPI's template syntax (`/integrations/{id}`); matching a
//! request against them is `matching.rs`.

mod matching;
pub use matching::*;

/// What a route does; the Worker maps each to its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteId {
    Health,
    OpenApi,
    Me,
    IntegrationsList,
    IntegrationCategories,
    IntegrationGet,
    DatasourceCreate,
    DatasourceList,
    DatasourceGet,
    DatasourceUpdate,
    DatasourceDelete,
    DatasourceCheck,
    DatasourceAudit,
    DatasourceSync,
    SyncRunList,
    SyncRunGet,
    UploadCreate,
    ReadingsCreate,
    UploadTemplates,
    UploadTemplate,
    ActivityList,
    EmissionsSummary,
    EmissionsList,
    EmissionFactors,
    OAuthAuthorize,
    OAuthComplete,
    OAuthCallback,
    WebhookGeneric,
    WebhookXero,
    WebhookOctopus,
    WebhookBritishGas,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointRotate,
    WebhookEndpointDelete,
    WebhookDeliveries,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials (health, catalog, provider webhooks).
    Public,
    /// A verified Clerk session token.
    User,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn route(id: RouteId, method: &'static str, path: &'static str, access: Access) -> Route {
    Route {
        id,
        method,
        path,
        access,
    }
}

pub const ROUTES: &[Route] = &[
    route(RouteId::Health, "GET", "/api/v1/health", Access::Public),
    route(
        RouteId::OpenApi,
        "GET",
        "/api/v1/openapi.json",
        Access::Public,
    ),
    route(RouteId::Me, "GET", "/api/v1/me", Access::User),
    route(
        RouteId::IntegrationsList,
        "GET",
        "/api/v1/integrations",
        Access::Public,
    ),
    route(
        RouteId::IntegrationCategories,
        "GET",
        "/api/v1/integrations/categories",
        Access::Public,
    ),
    route(
        RouteId::IntegrationGet,
        "GET",
        "/api/v1/integrations/{id}",
        Access::Public,
    ),
    route(
        RouteId::DatasourceCreate,
        "POST",
        "/api/v1/datasources",
        Access::User,
    ),
    route(
        RouteId::DatasourceList,
        "GET",
        "/api/v1/datasources",
        Access::User,
    ),
    route(
        RouteId::DatasourceGet,
        "GET",
        "/api/v1/datasources/{id}",
        Access::User,
    ),
    route(
        RouteId::DatasourceUpdate,
        "PUT",
        "/api/v1/datasources/{id}",
        Access::User,
    ),
    route(
        RouteId::DatasourceDelete,
        "DELETE",
        "/api/v1/datasources/{id}",
        Access::User,
    ),
    route(
        RouteId::DatasourceCheck,
        "POST",
        "/api/v1/datasources/{id}/check",
        Access::User,
    ),
    route(
        RouteId::DatasourceAudit,
        "GET",
        "/api/v1/datasources/{id}/audit",
        Access::User,
    ),
    route(
        RouteId::DatasourceSync,
        "POST",
        "/api/v1/datasources/{id}/sync",
        Access::User,
    ),
    route(
        RouteId::SyncRunList,
        "GET",
        "/api/v1/datasources/{id}/sync-runs",
        Access::User,
    ),
    route(
        RouteId::SyncRunGet,
        "GET",
        "/api/v1/datasources/{id}/sync-runs/{run_id}",
        Access::User,
    ),
    route(
        RouteId::UploadCreate,
        "POST",
        "/api/v1/datasources/{id}/uploads",
        Access::User,
    ),
    route(
        RouteId::ReadingsCreate,
        "POST",
        "/api/v1/datasources/{id}/readings",
        Access::User,
    ),
    route(
        RouteId::WebhookEndpointCreate,
        "POST",
        "/api/v1/datasources/{id}/webhook-endpoints",
        Access::User,
    ),
    route(
        RouteId::WebhookEndpointList,
        "GET",
        "/api/v1/datasources/{id}/webhook-endpoints",
        Access::User,
    ),
    route(
        RouteId::WebhookEndpointRotate,
        "POST",
        "/api/v1/datasources/{id}/webhook-endpoints/{endpoint_id}/rotate",
        Access::User,
    ),
    route(
        RouteId::WebhookEndpointDelete,
        "DELETE",
        "/api/v1/datasources/{id}/webhook-endpoints/{endpoint_id}",
        Access::User,
    ),
    route(
        RouteId::WebhookDeliveries,
        "GET",
        "/api/v1/datasources/{id}/webhook-deliveries",
        Access::User,
    ),
    // Signed by the sender, not a session: verified on the raw bytes.
    route(
        RouteId::WebhookGeneric,
        "POST",
        "/api/v1/webhooks/generic/{source}",
        Access::Public,
    ),
    route(
        RouteId::WebhookXero,
        "POST",
        "/api/v1/webhooks/xero",
        Access::Public,
    ),
    route(
        RouteId::WebhookOctopus,
        "POST",
        "/api/v1/webhooks/octopus-energy",
        Access::Public,
    ),
    route(
        RouteId::WebhookBritishGas,
        "POST",
        "/api/v1/webhooks/british-gas",
        Access::Public,
    ),
    route(
        RouteId::UploadTemplates,
        "GET",
        "/api/v1/uploads/templates",
        Access::Public,
    ),
    // `{file}` is `<type>.csv`, e.g. `electricity.csv`.
    route(
        RouteId::UploadTemplate,
        "GET",
        "/api/v1/uploads/templates/{file}",
        Access::Public,
    ),
    route(
        RouteId::ActivityList,
        "GET",
        "/api/v1/activity",
        Access::User,
    ),
    route(
        RouteId::EmissionsList,
        "GET",
        "/api/v1/emissions",
        Access::User,
    ),
    route(
        RouteId::EmissionsSummary,
        "GET",
        "/api/v1/emissions/summary",
        Access::User,
    ),
    route(
        RouteId::EmissionFactors,
        "GET",
        "/api/v1/emission-factors",
        Access::Public,
    ),
    route(
        RouteId::OAuthAuthorize,
        "POST",
        "/api/v1/datasources/oauth/authorize",
        Access::User,
    ),
    // The signed-in user finishes the grant the callback page relayed.
    route(
        RouteId::OAuthComplete,
        "POST",
        "/api/v1/datasources/oauth/complete",
        Access::User,
    ),
    // Public: the provider redirects the user's browser here. It only
    // relays the answer to the frontend, which completes it as the user.
    route(
        RouteId::OAuthCallback,
        "GET",
        "/api/v1/oauth/{integration}/callback",
        Access::Public,
    ),
];

/// What a path's body may be: files on the upload route, small JSON on
/// webhooks, JSON elsewhere.
pub fn body_policy(pattern: &str) -> crate::body::BodyPolicy {
    if pattern == "/api/v1/datasources/{id}/uploads" {
        crate::body::BodyPolicy::FILE
    } else if pattern.starts_with("/api/v1/webhooks/") {
        crate::body::BodyPolicy::WEBHOOK
    } else {
        crate::body::BodyPolicy::JSON
    }
}
