//! The public integration catalog.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use carbon_core::catalog::{self, query};
use carbon_core::error::ApiError;
use serde::Serialize;

use super::call::Call;
use crate::http::Reply;

/// Distinct list queries whose bodies are kept per isolate.
const MEMO_CAPACITY: usize = 256;

/// A serialised list body and its ETag.
type Memo = Rc<(Vec<u8>, String)>;

thread_local! {
    /// The catalog cannot change inside an isolate, so the same query always
    /// serialises to the same bytes: keep them (bounded) instead of
    /// filtering, ranking and serialising again.
    static LIST_BODIES: RefCell<HashMap<String, Memo>> = RefCell::new(HashMap::new());
}

/// Browsers and the CDN may reuse a catalog response for this long; the ETag
/// makes revalidation after that cheap.
const MAX_AGE: &str = "public, max-age=300";

fn cacheable<T: Serialize>(call: &Call<'_>, value: &T) -> Result<Reply, ApiError> {
    let if_none_match = call.header("If-None-Match");
    Ok(Reply::json(200, value)?.cacheable(MAX_AGE, if_none_match.as_deref()))
}

/// Builds the catalog and the body of its unfiltered list while the isolate
/// starts (`#[event(start)]`), so the first request does not. On Workers an
/// isolate starts while the TLS handshake is still under way, so this work is
/// off every request's path.
pub fn warm() {
    let _ = memo(String::new(), || Ok(Vec::new()));
}

/// The list body and ETag for the query string `key`, made from its
/// parameters (`pairs`, parsed only when the body is not kept yet).
fn memo(
    key: String,
    pairs: impl FnOnce() -> Result<Vec<(String, String)>, ApiError>,
) -> Result<Memo, ApiError> {
    if let Some(memo) = LIST_BODIES.with_borrow(|m| m.get(&key).cloned()) {
        return Ok(memo);
    }
    let query = query::ListQuery::parse(&pairs()?)?;
    let body = Reply::json(200, &query::list(catalog::catalog(), &query))?.body;
    let tag = carbon_core::etag::etag(&body);
    let memo = Rc::new((body, tag));
    LIST_BODIES.with_borrow_mut(|m| {
        if m.len() >= MEMO_CAPACITY {
            m.clear();
        }
        m.insert(key, memo.clone());
    });
    Ok(memo)
}

/// GET /api/v1/integrations
pub fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let key = call
        .url
        .map(|u| u.query().unwrap_or("").to_owned())
        .unwrap_or_default();
    let memo = memo(key, || call.query_pairs())?;
    let (body, tag) = memo.as_ref();
    let if_none_match = call.header("If-None-Match");
    Ok(Reply::raw(200, "application/json", body.clone()).tagged(
        tag.clone(),
        MAX_AGE,
        if_none_match.as_deref(),
    ))
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
