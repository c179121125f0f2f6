//! What this codebase can really do with each integration, and the `status`
//! that follows. Derived from the code that does the work (the provider
//! registry), never typed into the catalog data.

use serde::Serialize;

use super::model::{AuthType, DataType, Integration};
use crate::providers;
use crate::sync::record::ActivityType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// A user can connect it (OAuth flow or validated credentials).
    pub connect: bool,
    /// Activity data can be fetched from it.
    pub sync: bool,
    /// Its webhook deliveries are verified and ingested.
    pub webhooks: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Connecting and syncing both work.
    Available,
    /// The manual-entry route works for it.
    Manual,
    /// The file-upload route works for it.
    FileUpload,
    ComingSoon,
}

impl Status {
    pub const ALL: &'static [Status] = &[
        Status::Available,
        Status::Manual,
        Status::FileUpload,
        Status::ComingSoon,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Available => "available",
            Status::Manual => "manual",
            Status::FileUpload => "file_upload",
            Status::ComingSoon => "coming_soon",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == value)
    }
}

pub fn capabilities(integration: &Integration) -> Capabilities {
    let support = providers::support(&integration.id);
    Capabilities {
        connect: support.connect,
        sync: support.sync,
        webhooks: support.webhooks,
    }
}

pub fn status(integration: &Integration, caps: Capabilities) -> Status {
    if caps.connect && caps.sync {
        return Status::Available;
    }
    match integration.auth_type {
        AuthType::Manual if providers::manual_entry_works() => Status::Manual,
        AuthType::FileUpload if providers::file_upload_works() => Status::FileUpload,
        _ => Status::ComingSoon,
    }
}

/// What the provider's sync yields, where it syncs.
pub fn sync_facts(integration_id: &str) -> Option<providers::SyncFacts> {
    providers::provider(integration_id)
        .filter(|p| p.support().sync)
        .and_then(|p| p.sync_facts())
}

/// The catalog's data types for the activity types a sync writes.
pub fn data_types(types: &[ActivityType]) -> Vec<DataType> {
    let mut out: Vec<DataType> = types
        .iter()
        .map(|t| match t {
            ActivityType::ElectricityImport
            | ActivityType::ElectricityExport
            | ActivityType::ElectricityConsumption => DataType::Electricity,
            ActivityType::Gas => DataType::Gas,
            ActivityType::SolarGeneration => DataType::SolarGeneration,
            ActivityType::Spend => DataType::Spend,
            ActivityType::AiTokens => DataType::Tokens,
            ActivityType::Fuel => DataType::Fuel,
            ActivityType::Water => DataType::Water,
            ActivityType::Heat => DataType::Heat,
            ActivityType::Travel => DataType::Travel,
            ActivityType::Waste => DataType::Waste,
            ActivityType::Refrigerant => DataType::Refrigerants,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}
