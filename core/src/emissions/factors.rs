//! Emission factors as versioned data: `factors/*.toml`, turned into JSON by
//! `build.rs` and embedded. Values stay the published digits (strings) and
//! are parsed to `f64` for arithmetic, so what a line cites is what DESNZ
//! printed.

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

const DATA: &str = include_str!(concat!(env!("OUT_DIR"), "/factors.json"));

/// One publication (a year's DESNZ conversion factors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edition {
    pub id: String,
    /// The reporting year its factors are for.
    pub year: i32,
    pub title: String,
    pub version: String,
    /// Where each value was read (two independent copies at least).
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// One published factor: kg CO2e per `unit`, with its gases where given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    pub edition: String,
    /// What it is for (`electricity.uk.generation`...), stable across editions.
    pub key: String,
    /// The publication's own identifier for the row (the flat file's ID).
    #[serde(rename = "ref")]
    pub reference: String,
    pub unit: String,
    pub kgco2e: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ch4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n2o: Option<String>,
}

pub(super) fn number(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

impl Factor {
    /// `{edition}/{key}`: how lines cite it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.edition, self.key)
    }
    pub fn value(&self) -> f64 {
        number(&self.kgco2e)
    }
    /// (CO2, CH4, N2O) in kg CO2e per unit, where published.
    pub fn gases(&self) -> Option<(f64, f64, f64)> {
        Some((
            number(self.co2.as_deref()?),
            number(self.ch4.as_deref()?),
            number(self.n2o.as_deref()?),
        ))
    }
}

/// A published energy estimate (AI inference): kWh per unit, always
/// labelled an estimate, with what it assumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    pub id: String,
    pub key: String,
    pub unit: String,
    pub kwh: String,
    pub source: String,
    pub assumptions: String,
}

impl Estimate {
    pub fn kwh(&self) -> f64 {
        number(&self.kwh)
    }
}

#[derive(Debug, Deserialize)]
pub struct Factors {
    #[serde(rename = "edition")]
    pub editions: Vec<Edition>,
    #[serde(rename = "factor")]
    pub factors: Vec<Factor>,
    #[serde(rename = "estimate", default)]
    pub estimates: Vec<Estimate>,
    #[serde(flatten)]
    pub spend: super::spend::SpendData,
}

/// Which edition an activity's year takes, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The edition for the activity's reporting year.
    ForYear,
    /// The activity is newer than the latest edition held: the latest is
    /// used, and the line is recomputed when a newer one is added.
    LatestHeld,
    /// The activity is older than the earliest edition held.
    EarliestHeld,
    /// The datasource pinned this edition.
    Pinned,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::ForYear => "reporting_year",
            Choice::LatestHeld => "latest_held",
            Choice::EarliestHeld => "earliest_held",
            Choice::Pinned => "pinned",
        }
    }
}

impl Factors {
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        let mut f: Factors = serde_json::from_str(json)?;
        f.editions.sort_by_key(|e| e.year);
        Ok(f)
    }

    /// The edition for activity in reporting year `year`, or the pinned one.
    pub fn edition_for(&self, year: i32, pinned: Option<&str>) -> Option<(&Edition, Choice)> {
        if let Some(id) = pinned {
            return self
                .editions
                .iter()
                .find(|e| e.id == id)
                .map(|e| (e, Choice::Pinned));
        }
        if let Some(e) = self.editions.iter().find(|e| e.year == year) {
            return Some((e, Choice::ForYear));
        }
        let (first, last) = (self.editions.first()?, self.editions.last()?);
        Some(if year > last.year {
            (last, Choice::LatestHeld)
        } else {
            (first, Choice::EarliestHeld)
        })
    }

    pub fn estimate(&self, key: &str) -> Option<&Estimate> {
        self.estimates.iter().find(|e| e.key == key)
    }

    pub fn get(&self, edition: &str, key: &str) -> Option<&Factor> {
        self.factors
            .iter()
            .find(|f| f.edition == edition && f.key == key)
    }
}

/// The embedded factors, parsed on first use in this isolate (validated by
/// the tests, so a failure here is a build that never passed them).
pub fn factors() -> &'static Factors {
    static FACTORS: OnceLock<Factors> = OnceLock::new();
    FACTORS.get_or_init(|| Factors::from_json(DATA).expect("factor data is validated by tests"))
}

/// Bumped when the rules (`rules.rs`) or the arithmetic change what a line
/// is, so a deploy recomputes every datasource as it does for new factors.
pub const RULES_VERSION: u32 = 2;

/// What lines are computed with: the factor data and the rules' version. A
/// datasource whose lines were computed under another is recomputed.
pub fn fingerprint() -> &'static str {
    static FP: OnceLock<String> = OnceLock::new();
    FP.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(DATA.as_bytes())
            .chain_update(RULES_VERSION.to_le_bytes())
            .finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    })
}
