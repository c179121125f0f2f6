//! The public integration catalog.

use carbon_core::catalog::{self, query};
use carbon_core::error::ApiError;
use serde::Serialize;

use super::call::Call;
use crate::http::Reply;

/// Browsers and the CDN may reuse a catalog response for this long; the ETag
/// makes revalidation after that cheap.
const MAX_AGE: &str = "public, max-age=300";

fn cacheable<T: Serialize>(call: &Call<'_>, value: &T) -> Result<Reply, ApiError> {
    let if_none_match = call.header("If-None-Match");
    Ok(Reply::json(200, value)?.cacheable(MAX_AGE, if_none_match.as_deref()))
}

/// GET /api/v1/integrations
pub fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let query = query::ListQuery::parse(&call.query_pairs()?)?;
    cacheable(call, &query::list(catalog::catalog(), &query))
}

/// GET /api/v1/integrations/categories
pub fn categories(call: &Call<'_>) -> Result<Reply, ApiError> {
    #[derive(Serialize)]
    struct Categories {
        data: Vec<catalog::CategoryCount>,
    }
    cacheable(
        call,
        &Categories {
            data: catalog::catalog().categories(),
        },
    )
}

/// GET /api/v1/integrations/{id}
pub fn get(call: &Call<'_>) -> Result<Reply, ApiError> {
    let id = call.param("id");
    let entry = catalog::catalog()
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no integration with id {id:?}")))?;
    cacheable(call, &entry.detail())
}
