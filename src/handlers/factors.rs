//! GET /api/v1/emission-factors: the editions and factors the emissions
//! engine holds, with their sources (public: the same for every user).

use carbon_core::emissions::factors::{factors, Edition, Estimate, Factor};
use carbon_core::emissions::spend::SpendData;
use carbon_core::error::ApiError;
use serde::Serialize;

use super::call::Call;
use crate::http::Reply;

#[derive(Serialize)]
struct List<'a> {
    editions: Vec<&'a Edition>,
    data: Vec<&'a Factor>,
    estimates: &'a [Estimate],
    spend: &'a SpendData,
}

pub async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let (mut edition, mut key) = (None, None);
    for (k, v) in call.query_pairs()? {
        match k.as_str() {
            "edition" => edition = Some(v),
            "key" => key = Some(v),
            other => {
                return Err(ApiError::invalid_param(
                    other,
                    format!("unknown query parameter `{other}`; expected edition or key"),
                ))
            }
        }
    }
    let set = factors();
    if let Some(e) = &edition {
        if !set.editions.iter().any(|x| &x.id == e) {
            let held: Vec<_> = set.editions.iter().map(|x| x.id.as_str()).collect();
            return Err(ApiError::invalid_param(
                "edition",
                format!("`edition` must be one of {}", held.join(", ")),
            ));
        }
    }
    let data = set
        .factors
        .iter()
        .filter(|f| edition.as_ref().is_none_or(|e| &f.edition == e))
        .filter(|f| key.as_ref().is_none_or(|k| f.key.starts_with(k.as_str())))
        .collect();
    let editions = set
        .editions
        .iter()
        .filter(|e| edition.as_ref().is_none_or(|x| &e.id == x))
        .collect();
    Reply::json(
        200,
        &List {
            editions,
            data,
            estimates: &set.estimates,
            spend: &set.spend,
        },
    )
}
