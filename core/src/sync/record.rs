//! Normalised activity records: what every provider, upload and webhook
//! turns its data into, and what the emissions engine reads.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a record measures. With [`ActivityRecord::detail`] (fuel, travel
/// mode, refrigerant...) it is what the emissions engine picks a factor by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityType {
    ElectricityImport,
    ElectricityExport,
    /// A site's whole consumption (grid and own generation), as a
    /// consumption meter reads it: context, not itself an emission source.
    ElectricityConsumption,
    Gas,
    SolarGeneration,
    Spend,
    AiTokens,
    Fuel,
    Water,
    Heat,
    Travel,
    Waste,
    Refrigerant,
}

impl ActivityType {
    pub const ALL: [ActivityType; 13] = [
        ActivityType::ElectricityImport,
        ActivityType::ElectricityExport,
        ActivityType::ElectricityConsumption,
        ActivityType::Gas,
        ActivityType::SolarGeneration,
        ActivityType::Spend,
        ActivityType::AiTokens,
        ActivityType::Fuel,
        ActivityType::Water,
        ActivityType::Heat,
        ActivityType::Travel,
        ActivityType::Waste,
        ActivityType::Refrigerant,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::ElectricityImport => "electricity_import",
            ActivityType::ElectricityExport => "electricity_export",
            ActivityType::ElectricityConsumption => "electricity_consumption",
            ActivityType::Gas => "gas",
            ActivityType::SolarGeneration => "solar_generation",
            ActivityType::Spend => "spend",
            ActivityType::AiTokens => "ai_tokens",
            ActivityType::Fuel => "fuel",
            ActivityType::Water => "water",
            ActivityType::Heat => "heat",
            ActivityType::Travel => "travel",
            ActivityType::Waste => "waste",
            ActivityType::Refrigerant => "refrigerant",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One measured quantity over one period, from one stream (meter, system,
/// account...). Its natural key is (datasource, stream, type, detail,
/// start, end):
/// fetching the same period again is an update, never a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRecord {
    /// The source-side identifier: meter, system, account (`source_ref`).
    pub stream: String,
    pub activity_type: ActivityType,
    /// What the type alone does not say: the fuel, travel mode, refrigerant,
    /// spend category or AI model ('' when nothing).
    pub detail: String,
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
