//! The catalog's data model, as written in `catalog/*.toml`.
//!
//! Everything here is a fact about the provider. What *this codebase* can do
//! with it (connect, sync, webhooks) and the resulting `status` are not in the
//! data: they are derived from the code (see `capabilities.rs`), so the data
//! cannot claim more than the code does. `deny_unknown_fields` makes a `status`
//! typed into a data file a build failure.

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name, as in JSON and query parameters.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == value)
            }
        }
    };
}

string_enum!(
    /// Where an integration sits on the "Add data source" screen.
    Category {
        EnergySupplier => "energy_supplier",
        SmartMeter => "smart_meter",
        SolarBattery => "solar_battery",
        EvCharging => "ev_charging",
        AiPlatform => "ai_platform",
        Cloud => "cloud",
        Accounting => "accounting",
        CrmEnterprise => "crm_enterprise",
        TransportTravel => "transport_travel",
        Fleet => "fleet",
        WaterUtility => "water_utility",
        Manufacturing => "manufacturing",
        Retail => "retail",
        Communication => "communication",
        Generic => "generic",
    }
);

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::EnergySupplier => "Energy suppliers",
            Category::SmartMeter => "Smart-meter data",
            Category::SolarBattery => "Solar and batteries",
            Category::EvCharging => "EV charging",
            Category::AiPlatform => "AI platforms",
            Category::Cloud => "Cloud",
            Category::Accounting => "Accounting",
            Category::CrmEnterprise => "CRM and enterprise",
            Category::TransportTravel => "Transport and travel",
            Category::Fleet => "Fleet",
            Category::WaterUtility => "Water",
            Category::Manufacturing => "Manufacturing",
            Category::Retail => "Retail and e-commerce",
            Category::Communication => "Communication",
            Category::Generic => "Generic routes",
        }
    }
}

string_enum!(
    /// How a user authorises access.
    AuthType {
        OAuth2 => "oauth2",
        ApiKey => "api_key",
        Basic => "basic",
        FileUpload => "file_upload",
        Manual => "manual",
        Webhook => "webhook",
        LocalNetwork => "local_network",
    }
);

impl AuthType {
    /// People (or their own systems) send the data: files, typed readings,
    /// signed webhook pushes. No provider to call.
    pub fn fed_by_people(self) -> bool {
        matches!(
            self,
            AuthType::FileUpload | AuthType::Manual | AuthType::Webhook
        )
    }
}

string_enum!(
    Complexity {
        Easy => "easy",
        Medium => "medium",
        Complex => "complex",
    }
);

string_enum!(
    /// Kinds of activity data a source yields.
    DataType {
        Electricity => "electricity",
        Gas => "gas",
        SolarGeneration => "solar_generation",
        BatteryStorage => "battery_storage",
        EvCharging => "ev_charging",
        Heat => "heat",
        Water => "water",
        Fuel => "fuel",
        Spend => "spend",
        Travel => "travel",
        Freight => "freight",
        Compute => "compute",
        Tokens => "tokens",
        Waste => "waste",
        Production => "production",
        Refrigerants => "refrigerants",
        Other => "other",
    }
);

string_enum!(
    /// The finest time resolution the source provides.
    Granularity {
        Realtime => "realtime",
        FiveMinute => "five_minute",
        FifteenMinute => "fifteen_minute",
        HalfHourly => "half_hourly",
        Hourly => "hourly",
        Daily => "daily",
        Monthly => "monthly",
        PerRecord => "per_record",
        Unknown => "unknown",
    }
);

/// A value the user types when connecting (API key, account number...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialField {
    pub name: String,
    pub label: String,
    pub help: String,
    /// Regular expression the value must match (ECMAScript- and Rust-compatible),
    /// so the frontend can check it before sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Secrets are write-only: stored encrypted, shown only as a masked hint.
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthDetails {
    pub authorize_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub pkce: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faq {
    pub question: String,
    pub answer: String,
}

/// One provider in the catalog. Free-text facts nobody has confirmed say
/// "unknown" rather than guess; optional facts are absent when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub category: Category,
    /// One sentence for the picker.
    pub summary: String,
    /// A paragraph for the integration page.
    pub description: String,
    pub tags: Vec<String>,
    pub auth_type: AuthType,
    #[serde(default)]
    pub credential_fields: Vec<CredentialField>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthDetails>,
    pub setup_complexity: Complexity,
    pub setup_minutes: u32,
    pub data_types: Vec<DataType>,
    /// GHG Protocol scopes the data feeds (1, 2 and/or 3).
    pub scopes: Vec<u8>,
    pub granularity: Granularity,
    /// How far back data can be fetched, or "unknown".
    pub history: String,
    /// Whether the provider can push events by webhook; absent = unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_webhooks: Option<bool>,
    /// The provider's published limits, or "unknown".
    pub rate_limits: String,
    /// ISO 3166 codes (GB, US...) or "global".
    pub regions: Vec<String>,
    pub website: String,
    /// Public API documentation; absent when the provider has no public API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_docs: Option<String>,
    pub setup_guide: Vec<String>,
    pub faq: Vec<Faq>,
}
