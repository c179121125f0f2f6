//! Normalised activity records: what every provider, upload and webhook
//! turns its data into, and what the emissions engine reads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a record measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    ElectricityImport,
    ElectricityExport,
    Gas,
    SolarGeneration,
    Spend,
    AiTokens,
}

impl ActivityType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::ElectricityImport => "electricity_import",
            ActivityType::ElectricityExport => "electricity_export",
            ActivityType::Gas => "gas",
            ActivityType::SolarGeneration => "solar_generation",
            ActivityType::Spend => "spend",
            ActivityType::AiTokens => "ai_tokens",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ActivityType::ElectricityImport,
            ActivityType::ElectricityExport,
            ActivityType::Gas,
            ActivityType::SolarGeneration,
            ActivityType::Spend,
            ActivityType::AiTokens,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One measured quantity over one period, from one stream (meter, system,
/// account...). Its natural key is (datasource, stream, type, start, end):
/// fetching the same period again is an update, never a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// The source-side identifier: meter, system, account (`source_ref`).
    pub stream: String,
    pub activity_type: ActivityType,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub quantity: f64,
    pub unit: String,
    /// The provider marked it as estimated (not read from a meter).
    pub estimated: bool,
    /// Grid region (NESO Carbon Intensity region id) where known.
    pub region: Option<String>,
    /// Tariff in force for the period, where known.
    pub tariff: Option<String>,
    /// How the quantity was derived when it was converted (e.g. gas m3 to
    /// kWh), with every constant used.
    pub conversion: Option<serde_json::Value>,
}
