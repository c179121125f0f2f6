//! The public integration catalog.

use carbon_core::catalog::{self, query};
use carbon_core::error::ApiError;
use carbon_core::routes::Params;
use serde::Serialize;
use worker::Request;

use crate::http::Reply;

/// Browsers and the CDN may reuse a catalog response for this long; the ETag
/// makes revalidation after that cheap.
const MAX_AGE: &str = "public, max-age=300";

fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let url = req
        .url()
        .map_err(|e| ApiError::bad_request(format!("unreadable URL: {e}")))?;
    Ok(url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

fn cacheable<T: Serialize>(req: &Request, value: &T) -> Result<Reply, ApiError> {
    let if_none_match = req.headers().get("If-None-Match").ok().flatten();
    Ok(Reply::json(200, value)?.cacheable(MAX_AGE, if_none_match.as_deref()))
}

/// GET /api/v1/integrations
pub fn list(req: &Request) -> Result<Reply, ApiError> {
    let query = query::ListQuery::parse(&query_pairs(req)?)?;
    cacheable(req, &query::list(catalog::catalog(), &query))
}

/// GET /api/v1/integrations/categories
pub fn categories(req: &Request) -> Result<Reply, ApiError> {
    #[derive(Serialize)]
    struct Categories {
        data: Vec<catalog::CategoryCount>,
    }
    cacheable(
        req,
        &Categories {
            data: catalog::catalog().categories(),
        },
    )
}

/// GET /api/v1/integrations/{id}
pub fn get(req: &Request, params: &Params) -> Result<Reply, ApiError> {
    let id = params.get("id").unwrap_or_default();
    let entry = catalog::catalog()
        .get(id)
        .ok_or_else(|| ApiError::not_found(format!("no integration with id {id:?}")))?;
    cacheable(req, &entry.detail())
}
