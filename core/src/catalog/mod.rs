//! The integration catalog: 100+ providers a user can choose from.
//!
//! The data is written as TOML in `catalog/` at the repository root, turned
//! into JSON by `build.rs` at compile time (so the Worker carries no TOML
//! parser) and parsed once per isolate.

mod capabilities;
pub mod model;
pub mod query;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use serde::Serialize;

pub use capabilities::{Capabilities, Status};
use model::{AuthType, Category, Complexity, DataType, Integration};

const DATA: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));

/// Lower-cased text searched by `q`, made once at load.
#[derive(Debug)]
pub struct SearchText {
    pub name: String,
    pub tags: Vec<String>,
    pub summary: String,
    pub description: String,
}

/// An integration with what the code can do with it.
#[derive(Debug)]
pub struct Entry {
    pub integration: Integration,
    pub capabilities: Capabilities,
    pub status: Status,
    pub search: SearchText,
}

/// The fields a list shows.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub category: Category,
    pub summary: &'a str,
    pub tags: &'a [String],
    pub auth_type: AuthType,
    pub status: Status,
    pub capabilities: Capabilities,
    pub setup_complexity: Complexity,
    pub setup_minutes: u32,
    pub data_types: &'a [DataType],
    pub scopes: &'a [u8],
    pub regions: &'a [String],
}

/// The whole entry, for the integration page.
#[derive(Debug, Serialize)]
pub struct Detail<'a> {
    #[serde(flatten)]
    pub integration: &'a Integration,
    pub status: Status,
    pub capabilities: Capabilities,
    /// What a sync yields, from the provider's code (absent until it syncs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syncs: Option<crate::providers::SyncFacts>,
}

impl Entry {
    fn new(mut integration: Integration) -> Self {
        let capabilities = capabilities::capabilities(&integration);
        if let Some(facts) = capabilities::sync_facts(&integration.id) {
            // A provider that syncs says what it yields: the code, not the
            // typed data, is what the catalog shows.
            integration.data_types = capabilities::data_types(facts.activity_types);
            integration.granularity = facts.granularity;
            integration.history = facts.history.to_owned();
        }
        let status = capabilities::status(&integration, capabilities);
        let search = SearchText {
            name: integration.name.to_lowercase(),
            tags: integration.tags.iter().map(|t| t.to_lowercase()).collect(),
            summary: integration.summary.to_lowercase(),
            description: integration.description.to_lowercase(),
        };
        Entry {
            integration,
            capabilities,
            status,
            search,
        }
    }

    pub fn summary(&self) -> Summary<'_> {
        let i = &self.integration;
        Summary {
            id: &i.id,
            name: &i.name,
            category: i.category,
            summary: &i.summary,
            tags: &i.tags,
            auth_type: i.auth_type,
            status: self.status,
            capabilities: self.capabilities,
            setup_complexity: i.setup_complexity,
            setup_minutes: i.setup_minutes,
            data_types: &i.data_types,
            scopes: &i.scopes,
            regions: &i.regions,
        }
    }

    pub fn detail(&self) -> Detail<'_> {
        Detail {
            integration: &self.integration,
            status: self.status,
            capabilities: self.capabilities,
            syncs: capabilities::sync_facts(&self.integration.id),
        }
    }
}

#[derive(Debug)]
pub struct Catalog {
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize)]
pub struct CategoryCount {
    pub id: Category,
    pub name: &'static str,
    pub count: usize,
    pub available: usize,
}

impl Catalog {
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let integrations: Vec<Integration> = serde_json::from_str(json)?;
        Ok(Catalog {
            entries: integrations.into_iter().map(Entry::new).collect(),
        })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.integration.id == id)
    }

    /// Every category (also empty ones, so the frontend's tabs are stable),
    /// in declaration order, with how many entries it has.
    pub fn categories(&self) -> Vec<CategoryCount> {
        Category::ALL
            .iter()
            .map(|&c| {
                let of_c = || {
                    self.entries
                        .iter()
                        .filter(move |e| e.integration.category == c)
                };
                CategoryCount {
                    id: c,
                    name: c.label(),
                    count: of_c().count(),
                    available: of_c().filter(|e| e.status == Status::Available).count(),
                }
            })
            .collect()
    }
}

/// The embedded catalog, parsed on first use in this isolate. The data is
/// validated by the tests, so a parse failure here is a build that never
/// passed them.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| Catalog::from_json(DATA).expect("catalog data is validated by tests"))
}
