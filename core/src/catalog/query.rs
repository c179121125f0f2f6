//! `GET /api/v1/integrations`: filters, ranked search and page pagination.

use serde::Serialize;

use super::capabilities::Status;
use super::model::{AuthType, Category, DataType};
use super::{Catalog, Entry, Summary};
use crate::error::ApiError;
use crate::query::{bounded, Pagination};

pub const DEFAULT_PER_PAGE: usize = 50;
pub const MAX_PER_PAGE: usize = 200;
const MAX_QUERY_LEN: usize = 200;

/// A validated list request. Parameters may repeat (`?category=a&category=b`)
/// to mean "any of"; different parameters combine with "and".
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub categories: Vec<Category>,
    pub auth_types: Vec<AuthType>,
    pub statuses: Vec<Status>,
    pub scopes: Vec<u8>,
    pub data_types: Vec<DataType>,
    /// Lower-cased search terms; an entry must match every one.
    pub terms: Vec<String>,
    pub page: usize,
    pub per_page: usize,
}

fn one_of<T: Copy>(
    param: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    all: &[&str],
) -> Result<T, ApiError> {
    parse(value).ok_or_else(|| {
        ApiError::invalid_param(
            param,
            format!(
                "`{param}` must be one of: {}; got {value:?}",
                all.join(", ")
            ),
        )
    })
}

fn number(param: &str, value: &str, min: usize, max: usize) -> Result<usize, ApiError> {
    bounded(param, value, min as u64, max as u64).map(|n| n as usize)
}

impl ListQuery {
    /// Parses decoded query pairs. Unknown parameters are refused rather than
    /// ignored, so a typo (`categroy=`) is not silently an unfiltered list.
    pub fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let mut q = ListQuery {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            ..Default::default()
        };
        for (key, value) in pairs {
            let value = value.trim();
            match key.as_str() {
                "category" => {
                    let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
                    q.categories.push(one_of("category", value, Category::parse, &names)?);
                }
                "auth_type" => {
                    let names: Vec<&str> = AuthType::ALL.iter().map(|c| c.as_str()).collect();
                    q.auth_types.push(one_of("auth_type", value, AuthType::parse, &names)?);
                }
                "status" => {
                    let names: Vec<&str> = Status::ALL.iter().map(|c| c.as_str()).collect();
                    q.statuses.push(one_of("status", value, Status::parse, &names)?);
                }
                "data_type" => {
                    let names: Vec<&str> = DataType::ALL.iter().map(|c| c.as_str()).collect();
                    q.data_types.push(one_of("data_type", value, DataType::parse, &names)?);
                }
                "scope" => q.scopes.push(number("scope", value, 1, 3)? as u8),
                "page" => q.page = number("page", value, 1, 10_000)?,
                "per_page" => q.per_page = number("per_page", value, 1, MAX_PER_PAGE)?,
                "q" => {
                    if value.chars().count() > MAX_QUERY_LEN {
                        return Err(ApiError::invalid_param("q", format!("`q` is limited to {MAX_QUERY_LEN} characters")));
                    }
                    q.terms.extend(value.split_whitespace().map(str::to_lowercase));
                }
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        format!("unknown query parameter `{other}`; expected category, auth_type, status, scope, data_type, q, page or per_page"),
                    ))
                }
            }
        }
        Ok(q)
    }

    fn keeps(&self, entry: &Entry) -> bool {
        let i = &entry.integration;
        (self.categories.is_empty() || self.categories.contains(&i.category))
            && (self.auth_types.is_empty() || self.auth_types.contains(&i.auth_type))
            && (self.statuses.is_empty() || self.statuses.contains(&entry.status))
            && (self.scopes.is_empty() || self.scopes.iter().any(|s| i.scopes.contains(s)))
            && (self.data_types.is_empty()
                || self.data_types.iter().any(|d| i.data_types.contains(d)))
    }
}

/// Relevance of an entry to every search term, or `None` when a term does not
/// match at all. Name matches outrank tag matches, which outrank description.
pub fn score(entry: &Entry, terms: &[String]) -> Option<u32> {
    let mut total = 0;
    for term in terms {
        let name = &entry.search.name;
        let term_score = if name == term {
            100
        } else if name.starts_with(term.as_str()) {
            60
        } else if name
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w.starts_with(term.as_str()))
        {
            45
        } else if name.contains(term.as_str()) {
            30
        } else if entry.search.tags.iter().any(|t| t == term) {
            25
        } else if entry.search.tags.iter().any(|t| t.contains(term.as_str())) {
            15
        } else if entry.search.summary.contains(term.as_str()) {
            8
        } else if entry.search.description.contains(term.as_str()) {
            4
        } else {
            return None;
        };
        total += term_score;
    }
    Some(total)
}

#[derive(Debug, Serialize)]
pub struct ListPage<'a> {
    pub data: Vec<Summary<'a>>,
    pub pagination: Pagination,
}

/// Filters, ranks (by relevance when searching, then by name and id, so the
/// order is stable) and cuts one page.
pub fn list<'a>(catalog: &'a Catalog, query: &ListQuery) -> ListPage<'a> {
    let mut hits: Vec<(u32, &Entry)> = catalog
        .entries()
        .iter()
        .filter(|e| query.keeps(e))
        .filter_map(|e| score(e, &query.terms).map(|s| (s, e)))
        .collect();
    hits.sort_by(|(sa, a), (sb, b)| {
        sb.cmp(sa)
            .then_with(|| a.search.name.cmp(&b.search.name))
            .then_with(|| a.integration.id.cmp(&b.integration.id))
    });
    let total = hits.len();
    let data = hits
        .into_iter()
        .skip((query.page - 1) * query.per_page)
        .take(query.per_page)
        .map(|(_, e)| e.summary())
        .collect();
    ListPage {
        data,
        pagination: Pagination::new(query.page as u64, query.per_page as u64, total as u64),
    }
}
