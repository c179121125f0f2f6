//! One activity value to its emission lines (GHG Protocol), by the rules
//! in `rules.rs`: grid electricity gives Scope 2 (location- and market-
//! based) and Scope 3 category 3 (T&D losses, well-to-tank) apart; gas and
//! fuels Scope 1 and their well-to-tank; travel, spend and AI usage Scope 3.
//! Exports and a site's total consumption give none: exports are never
//! negative emissions, and self-consumed solar is simply not imported. Solar
//! generation gives an avoided-emissions line outside the inventory.
//!
//! Arithmetic: quantity x the published total factor, in `f64` at full
//! precision; nothing is rounded here (display rounds).

use serde::Serialize;

use super::factors::{Choice, Factor, Factors};
use super::rules::{rules, Rule, Source};
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
    /// A residual-mix factor the organisation reports with (none is held
    /// here: no UK figure could be cross-checked), kg CO2e per kWh.
    ResidualMix { factor: f64, source: String },
}

/// How location-based Scope 2 is computed (`scope2_location`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Location {
    /// Half-hourly values with a known GB region take that region's
    /// half-hourly intensity where every value of the day has one; the rest
    /// take the DESNZ national factor.
    #[default]
    Regional,
    /// The DESNZ national factor throughout.
    National,
}

/// What a datasource's settings say about its emissions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    pub market: Market,
    /// An edition the user pinned (`emission_factor_edition`).
    pub pinned: Option<String>,
    pub location: Location,
    /// Flights without the radiative-forcing uplift
    /// (`flight_radiative_forcing: false`); DESNZ advises including it.
    pub flights_without_rf: bool,
}

impl Settings {
    /// From a datasource's settings JSON; anything unreadable is the default.
    pub fn from_json(settings: &serde_json::Value) -> Settings {
        Settings {
            market: serde_json::from_value(settings["scope2_market"].clone()).unwrap_or_default(),
            pinned: settings["emission_factor_edition"]
                .as_str()
                .map(str::to_owned),
            location: match settings["scope2_location"].as_str() {
                Some("national") => Location::National,
                _ => Location::Regional,
            },
            flights_without_rf: settings["flight_radiative_forcing"] == false,
        }
    }
}

impl Settings {
    /// What is wrong with a datasource's emissions settings, by field.
    pub fn problems(settings: &serde_json::Value) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        // A key given as null is refused like any other wrong value: the
        // document types none of them nullable.
        if let Some(market) = settings.get("scope2_market") {
            match serde_json::from_value::<Market>(market.clone()) {
                Ok(Market::Supplier { factor, source } | Market::ResidualMix { factor, source })
                    if !(factor.is_finite() && (0.0..=2.0).contains(&factor))
                        || source.trim().is_empty() =>
                {
                    out.push(("scope2_market", "a supplier or residual-mix factor is kg CO2e per kWh from 0 to 2, with its `source`".into()));
                }
                Ok(_) => {}
                Err(_) => out.push(("scope2_market", "must be {\"basis\": \"grid_average\"}, {\"basis\": \"rego_backed\"}, or {\"basis\": \"supplier\" or \"residual_mix\", \"factor\": kgCO2e per kWh, \"source\": \"...\"}".into())),
            }
        }
        if let Some(pinned) = settings.get("emission_factor_edition") {
            let held: Vec<&str> = super::factors::factors()
                .editions
                .iter()
                .map(|e| e.id.as_str())
                .collect();
            if !pinned.as_str().is_some_and(|p| held.contains(&p)) {
                out.push((
                    "emission_factor_edition",
                    format!("must be one of {}", held.join(", ")),
                ));
            }
        }
        let location = settings.get("scope2_location");
        if location.is_some_and(|l| !matches!(l.as_str(), Some("regional" | "national"))) {
            out.push((
                "scope2_location",
                "must be \"regional\" or \"national\"".into(),
            ));
        }
        if settings
            .get("flight_radiative_forcing")
            .is_some_and(|rf| !rf.is_boolean())
        {
            out.push(("flight_radiative_forcing", "must be true or false".into()));
        }
        out
    }
}

/// One activity value, as the engine needs it.
#[derive(Debug, Clone, Copy)]
pub struct Activity<'a> {
    pub activity_type: ActivityType,
    pub unit: &'a str,
    /// Fuel, travel mode, spend category or account, AI model ('' if none).
    pub detail: &'a str,
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
    /// Storage replaces it by the regional half-hourly figure where it can
    /// (see `rules::Rule::regional`).
    #[serde(skip)]
    pub regional: u8,
}

fn line(rule: &Rule, f: &Factor, choice: Choice, quantity: f64) -> Line {
    Line {
        line: rule.line,
        scope: rule.scope,
        category: rule.category,
        method: rule.method,
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
        regional: rule.regional,
    }
}

/// The lines of one activity value under the datasource's settings.
pub fn lines(a: &Activity, set: &'static Factors, settings: &Settings) -> Vec<Line> {
    if !a.quantity.is_finite() {
        return Vec::new();
    }
    let rules = rules(a.activity_type, a.unit, a.detail, settings);
    if rules.is_empty() {
        return Vec::new();
    }
    let Some((edition, choice)) = set.edition_for(a.year, settings.pinned.as_deref()) else {
        return Vec::new();
    };
    rules
        .iter()
        .filter_map(|r| {
            let mut l = match &r.source {
                Source::Desnz(key) => line(r, set.get(&edition.id, key)?, choice, a.quantity),
                Source::EnergyEstimate(key) => {
                    let grid = set.get(&edition.id, super::rules::GRID)?;
                    super::spend::estimate(r, set.estimate(key)?, grid, choice, a.quantity)
                }
                Source::Spend => super::spend::line(r, set, a)?,
            };
            if r.line == "s2_market" {
                market(&mut l, &settings.market, a.quantity);
            }
            Some(l)
        })
        .collect()
}

/// 16 hex digits of the SHA-256 of a user-given text.
fn short_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
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
            format!("market/rego_backed/{}", l.edition),
            0.0,
            "REGO-backed renewable tariff".to_owned(),
        ),
        // The organisation's own figure and source: its id says which, so
        // two datasources' sources never share (or show) one row.
        Market::Supplier { factor, source } => (
            format!("market/supplier/{}/{}", l.edition, short_hash(source)),
            *factor,
            source.clone(),
        ),
        Market::ResidualMix { factor, source } => (
            format!("market/residual_mix/{}/{}", l.edition, short_hash(source)),
            *factor,
            source.clone(),
        ),
    };
    l.factor_id = id;
    l.factor_ref = reference;
    l.factor = factor;
    l.kgco2e = quantity * factor;
    l.gases = None;
}
