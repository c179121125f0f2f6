//! Page-number pagination shared by every list endpoint.

use serde::Serialize;

use crate::error::ApiError;

#[derive(Debug, Serialize)]
pub struct Pagination {
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
    pub total_pages: u64,
}

impl Pagination {
    pub fn new(page: u64, per_page: u64, total: u64) -> Self {
        Pagination {
            page,
            per_page,
            total,
            total_pages: total.div_ceil(per_page.max(1)),
        }
    }
}

/// An integer query parameter within bounds, or a 400 naming it.
pub fn bounded(param: &str, value: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ApiError::invalid_param(
                param,
                format!("`{param}` must be an integer from {min} to {max}"),
            )
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u32,
    pub per_page: u32,
}

impl Page {
    /// Parses `page` and `per_page`; any other parameter is a 400 naming it.
    pub fn parse(
        pairs: &[(String, String)],
        default_per_page: u32,
        max_per_page: u32,
    ) -> Result<Self, ApiError> {
        let mut page = Page {
            page: 1,
            per_page: default_per_page,
        };
        for (key, value) in pairs {
            match key.as_str() {
                "page" => page.page = bounded("page", value, 1, 10_000)? as u32,
                "per_page" => {
                    page.per_page = bounded("per_page", value, 1, max_per_page.into())? as u32
                }
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        format!("unknown query parameter `{other}`; expected page or per_page"),
                    ))
                }
            }
        }
        Ok(page)
    }

    pub fn offset(&self) -> u32 {
        (self.page - 1) * self.per_page
    }

    pub fn pagination(&self, total: u64) -> Pagination {
        Pagination::new(self.page.into(), self.per_page.into(), total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_offsets() {
        let p = Page::parse(&[], 20, 100).unwrap();
        assert_eq!((p.page, p.per_page, p.offset()), (1, 20, 0));
        let p = Page::parse(&pairs(&[("page", "3"), ("per_page", "10")]), 20, 100).unwrap();
        assert_eq!(p.offset(), 20);
        assert_eq!(p.pagination(21).total_pages, 3);
    }

    #[test]
    fn bad_or_unknown_parameters_name_themselves() {
        for (k, v) in [
            ("page", "0"),
            ("per_page", "101"),
            ("per_page", "x"),
            ("sort", "name"),
        ] {
            let err = Page::parse(&pairs(&[(k, v)]), 20, 100).unwrap_err();
            assert_eq!(err.to_problem("/", "r").field.as_deref(), Some(k));
        }
    }
}
