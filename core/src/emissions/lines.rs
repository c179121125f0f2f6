//! One activity value to its emission lines (GHG Protocol): grid
//! electricity gives Scope 2 (location-based, from generation) and Scope 3
//! category 3 (transmission and distribution losses, and the well-to-tank
//! of both), reported apart; natural gas gives Scope 1 and its Scope 3
//! well-to-tank. Exports, own generation and a site's total consumption
//! give none: exports are never negative emissions, and self-consumed
//! solar is simply not imported.
//!
//! Arithmetic: quantity x the published total factor, in `f64` at full
//! precision; nothing is rounded here (display rounds).

use serde::Serialize;

use super::factors::{Choice, Factor, Factors};
use crate::sync::record::ActivityType;

/// How a datasource's electricity is accounted market-based (Scope 2
/// Guidance): a datasource setting, `scope2_market`.
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(tag = "basis", rename_all = "snake_case")]
pub enum Market {
    /// No contractual instrument known: the grid-average factor, labelled
    /// so (no residual-mix factor is held yet).
    #[default]
    GridAverage,
    /// A renewable tariff backed by REGOs: zero for the covered kWh.
    RegoBacked,
    /// The supplier's published fuel-mix factor, kg CO2e per kWh.
    Supplier { factor: f64, source: String },
}

/// What a datasource's settings say about its emissions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub market: Market,
    /// An edition the user pinned (`emission_factor_edition`).
    pub pinned: Option<String>,
}

impl Settings {
    /// From a datasource's settings JSON; anything unreadable is the default.
    pub fn from_json(settings: &serde_json::Value) -> Settings {
        Settings {
            market: serde_json::from_value(settings["scope2_market"].clone()).unwrap_or_default(),
            pinned: settings["emission_factor_edition"]
                .as_str()
                .map(str::to_owned),
        }
    }
}

/// One activity value, as the engine needs it.
#[derive(Debug, Clone, Copy)]
pub struct Activity<'a> {
    pub activity_type: ActivityType,
    pub unit: &'a str,
    pub quantity: f64,
    /// The reporting year the value falls in (its period's start, UTC).
    pub year: i32,
}

/// One emission line of an activity value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// Stable per activity value: `s2_location`, `s3_td_losses`...
    pub line: &'static str,
    pub scope: u8,
    pub category: &'static str,
    pub method: &'static str,
    /// `{edition}/{key}` of the factor applied.
    pub factor_id: String,
    pub factor_ref: String,
    pub edition: String,
    /// Why that edition (`reporting_year`, `latest_held`...).
    pub edition_choice: &'static str,
    pub factor: f64,
    pub factor_unit: String,
    pub kgco2e: f64,
    /// (CO2, CH4, N2O) in kg CO2e, where the factor publishes them.
    pub gases: Option<(f64, f64, f64)>,
}

/// (line, scope, category, method, factor key) per activity kind.
type Rule = (&'static str, u8, &'static str, &'static str, &'static str);

const ELECTRICITY: &[Rule] = &[
    (
        "s2_location",
        2,
        "purchased_electricity",
        "location",
        "electricity.uk.generation",
    ),
    (
        "s2_market",
        2,
        "purchased_electricity",
        "market",
        "electricity.uk.generation",
    ),
    (
        "s3_td_losses",
        3,
        "fuel_and_energy_related",
        "td_losses",
        "electricity.uk.td_losses",
    ),
    (
        "s3_wtt_generation",
        3,
        "fuel_and_energy_related",
        "well_to_tank",
        "electricity.uk.wtt_generation",
    ),
    (
        "s3_wtt_td_losses",
        3,
        "fuel_and_energy_related",
        "well_to_tank",
        "electricity.uk.wtt_td_losses",
    ),
];
const GAS_KWH: &[Rule] = &[
    (
        "s1_combustion",
        1,
        "stationary_combustion",
        "direct",
        "natural_gas.kwh_gross_cv",
    ),
    (
        "s3_wtt",
        3,
        "fuel_and_energy_related",
        "well_to_tank",
        "natural_gas.wtt_kwh_gross_cv",
    ),
];
const GAS_M3: &[Rule] = &[
    (
        "s1_combustion",
        1,
        "stationary_combustion",
        "direct",
        "natural_gas.m3",
    ),
    (
        "s3_wtt",
        3,
        "fuel_and_energy_related",
        "well_to_tank",
        "natural_gas.wtt_m3",
    ),
];

fn rules(a: &Activity) -> &'static [Rule] {
    match (a.activity_type, a.unit) {
        (ActivityType::ElectricityImport, "kWh") => ELECTRICITY,
        (ActivityType::Gas, "kWh") => GAS_KWH,
        (ActivityType::Gas, "m3") => GAS_M3,
        _ => &[],
    }
}

fn line(rule: &Rule, f: &Factor, choice: Choice, quantity: f64) -> Line {
    let (name, scope, category, method, _) = *rule;
    Line {
        line: name,
        scope,
        category,
        method,
        factor_id: f.id(),
        factor_ref: f.reference.clone(),
        edition: f.edition.clone(),
        edition_choice: choice.as_str(),
        factor: f.value(),
        factor_unit: f.unit.clone(),
        kgco2e: quantity * f.value(),
        gases: f
            .gases()
            .map(|(c, m, n)| (quantity * c, quantity * m, quantity * n)),
    }
}

/// The lines of one activity value under the datasource's settings.
pub fn lines(a: &Activity, set: &Factors, settings: &Settings) -> Vec<Line> {
    let rules = rules(a);
    if rules.is_empty() || !a.quantity.is_finite() {
        return Vec::new();
    }
    let Some((edition, choice)) = set.edition_for(a.year, settings.pinned.as_deref()) else {
        return Vec::new();
    };
    rules
        .iter()
        .filter_map(|r| {
            let f = set.get(&edition.id, r.4)?;
            let mut l = line(r, f, choice, a.quantity);
            if r.0 == "s2_market" {
                market(&mut l, &settings.market, a.quantity);
            }
            Some(l)
        })
        .collect()
}

/// The market-based line: the instrument's factor where there is one.
fn market(l: &mut Line, market: &Market, quantity: f64) {
    let (id, factor, reference) = match market {
        Market::GridAverage => {
            l.factor_id = format!("{}#grid_average_no_residual_mix", l.factor_id);
            return;
        }
        Market::RegoBacked => (
            "market/rego_backed".to_owned(),
            0.0,
            "REGO-backed renewable tariff".to_owned(),
        ),
        Market::Supplier { factor, source } => {
            ("market/supplier".to_owned(), *factor, source.clone())
        }
    };
    l.factor_id = id;
    l.factor_ref = reference;
    l.factor = factor;
    l.kgco2e = quantity * factor;
    l.gases = None;
}
