//! GET /api/v1/emissions/summary: the user's emissions per scope, both
//! Scope 2 methods side by side.

use carbon_core::datasources::timestamp;
use carbon_core::emissions::list::{LineRow, LinesQuery};
use carbon_core::emissions::summary::{Method, SummaryQuery, Totals, DISPLAY_RULE};
use carbon_core::error::ApiError;
use serde::Serialize;

use super::call::Call;
use crate::connections::db_error;
use crate::http::Reply;
use crate::storage::emissions;

#[derive(Serialize)]
struct Summary {
    from: String,
    to: String,
    group_by: &'static str,
    method: &'static str,
    unit: &'static str,
    data: Vec<Totals>,
    totals: Totals,
    display: Display,
}

/// The totals as a report shows them, with the rule that rounded them.
#[derive(Serialize)]
struct Display {
    unit: &'static str,
    rule: &'static str,
    totals: Totals,
}

#[derive(Serialize)]
struct Lines {
    data: Vec<LineRow>,
    unit: &'static str,
    pagination: carbon_core::query::Pagination,
}

/// GET /api/v1/emissions: the lines, each with the factor it cites.
pub async fn list(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let q = LinesQuery::parse(&call.query_pairs()?, ctx.now())?;
    let user = &call.user()?.user_id;
    let (data, total) = emissions::lines(&ctx.db, user, &q)
        .await
        .map_err(db_error)?;
    let pagination = q.page.pagination(total);
    Reply::json(
        200,
        &Lines {
            data,
            unit: "kgCO2e",
            pagination,
        },
    )
}

pub async fn summary(call: &Call<'_>) -> Result<Reply, ApiError> {
    let ctx = call.services()?;
    let q = SummaryQuery::parse(&call.query_pairs()?, ctx.now())?;
    let user = &call.user()?.user_id;
    let rows = emissions::summary(&ctx.db, user, &q)
        .await
        .map_err(db_error)?;
    let data: Vec<Totals> = rows.into_iter().map(|t| t.with_total(q.method)).collect();
    let mut all = Totals {
        group: "all".into(),
        scope_1: 0.0,
        scope_2_location: 0.0,
        scope_2_market: 0.0,
        scope_3: 0.0,
        total: 0.0,
        avoided: 0.0,
        scope_3_spend_based: 0.0,
        scope_3_estimated: 0.0,
        lines: 0,
    };
    for t in &data {
        all.scope_1 += t.scope_1;
        all.scope_2_location += t.scope_2_location;
        all.scope_2_market += t.scope_2_market;
        all.scope_3 += t.scope_3;
        all.avoided += t.avoided;
        all.scope_3_spend_based += t.scope_3_spend_based;
        all.scope_3_estimated += t.scope_3_estimated;
        all.lines += t.lines;
    }
    let totals = all.with_total(q.method);
    Reply::json(
        200,
        &Summary {
            from: timestamp(q.from),
            to: timestamp(q.to),
            group_by: q.group_by.as_str(),
            method: match q.method {
                Method::Location => "location",
                Method::Market => "market",
            },
            unit: "kgCO2e",
            data,
            display: Display {
                unit: "tCO2e",
                rule: DISPLAY_RULE,
                totals: totals.display(),
            },
            totals,
        },
    )
}
