//! Which lines an activity gives, and from which factor (GHG Protocol
//! scopes and categories): data, like the factors themselves. An activity
//! no rule covers gives no line, and the summary says how much of it there
//! is rather than guessing.

use super::lines::Settings;
use crate::sync::record::ActivityType;

/// How a line's factor is found.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A DESNZ factor (by key) of the edition the activity's year takes.
    Desnz(String),
    /// A published energy estimate (kWh per unit, `factors/*.toml`
    /// `[[estimate]]`) times the DESNZ grid generation factor.
    EnergyEstimate(String),
    /// A spend-based factor: the account or category mapped to a supply-
    /// chain category, in the spend's currency and year.
    Spend,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable per activity value: `s2_location`, `s3_td_losses`...
    pub line: &'static str,
    /// 1-3; 0 is outside the inventory (avoided emissions, reported apart).
    pub scope: u8,
    pub category: &'static str,
    pub method: &'static str,
    pub source: Source,
    /// Replaced by the regional half-hourly intensity where every value of
    /// the day has one (storage decides): 1 the location-based line, 2 the
    /// T&D losses the regional figure already includes.
    pub regional: u8,
}

fn rule(
    line: &'static str,
    scope: u8,
    category: &'static str,
    method: &'static str,
    key: &str,
) -> Rule {
    Rule {
        line,
        scope,
        category,
        method,
        source: Source::Desnz(key.to_owned()),
        regional: 0,
    }
}

const FEERA: &str = "fuel_and_energy_related";
/// The DESNZ grid generation factor: Scope 2, and what solar displaces.
pub const GRID: &str = "electricity.uk.generation";

fn electricity(settings: &Settings) -> Vec<Rule> {
    let regional = u8::from(settings.location == super::lines::Location::Regional);
    vec![
        Rule {
            regional,
            ..rule("s2_location", 2, "purchased_electricity", "location", GRID)
        },
        rule("s2_market", 2, "purchased_electricity", "market", GRID),
        Rule {
            regional: regional * 2,
            ..rule(
                "s3_td_losses",
                3,
                FEERA,
                "td_losses",
                "electricity.uk.td_losses",
            )
        },
        rule(
            "s3_wtt_generation",
            3,
            FEERA,
            "well_to_tank",
            "electricity.uk.wtt_generation",
        ),
        rule(
            "s3_wtt_td_losses",
            3,
            FEERA,
            "well_to_tank",
            "electricity.uk.wtt_td_losses",
        ),
    ]
}

/// Fuels DESNZ publishes per litre that the upload template names.
const FUELS: &[&str] = &["diesel", "petrol", "lpg", "burning_oil", "gas_oil"];

/// A travel mode's DESNZ factor key (per km; per passenger km for public
/// transport and flights).
fn travel_key(mode: &str, settings: &Settings) -> Option<String> {
    let rf = if settings.flights_without_rf {
        "no_rf"
    } else {
        "rf"
    };
    Some(match mode {
        "car" => "travel.car_average_unknown.km".to_owned(),
        "rail" => "travel.rail_national.pkm".to_owned(),
        "flight_domestic" | "flight_short_haul" | "flight_long_haul" => {
            format!("travel.{mode}_{rf}.pkm")
        }
        _ => return None,
    })
}

/// The rules for one kind of activity (type, unit, detail).
pub fn rules(t: ActivityType, unit: &str, detail: &str, settings: &Settings) -> Vec<Rule> {
    use ActivityType as A;
    match (t, unit) {
        (A::ElectricityImport, "kWh") => electricity(settings),
        (A::Gas, "kWh") => vec![
            rule(
                "s1_combustion",
                1,
                "stationary_combustion",
                "direct",
                "natural_gas.kwh_gross_cv",
            ),
            rule(
                "s3_wtt",
                3,
                FEERA,
                "well_to_tank",
                "natural_gas.wtt_kwh_gross_cv",
            ),
        ],
        (A::Gas, "m3") => vec![
            rule(
                "s1_combustion",
                1,
                "stationary_combustion",
                "direct",
                "natural_gas.m3",
            ),
            rule("s3_wtt", 3, FEERA, "well_to_tank", "natural_gas.wtt_m3"),
        ],
        // Generation displaces grid electricity: reported apart, never
        // netted (exports and self-consumption give no line of their own).
        (A::SolarGeneration, "kWh") => {
            vec![rule(
                "avoided_grid",
                0,
                "avoided_emissions",
                "avoided",
                GRID,
            )]
        }
        (A::Fuel, "litres") if FUELS.contains(&detail) => vec![rule(
            "s1_combustion",
            1,
            "fuel_combustion",
            "direct",
            &format!("fuel.{detail}.litres"),
        )],
        (A::Travel, "nights") => match detail {
            "hotel_uk" => vec![rule(
                "s3_business_travel",
                3,
                "business_travel",
                "per_night",
                "hotel.uk.night",
            )],
            "hotel_london" => vec![rule(
                "s3_business_travel",
                3,
                "business_travel",
                "per_night",
                "hotel.uk_london.night",
            )],
            _ => Vec::new(),
        },
        (A::Travel, "km") => travel_key(detail, settings)
            .map(|key| {
                vec![rule(
                    "s3_business_travel",
                    3,
                    "business_travel",
                    "distance_based",
                    &key,
                )]
            })
            .unwrap_or_default(),
        (A::AiTokens, "input_tokens" | "output_tokens") => vec![Rule {
            source: Source::EnergyEstimate(format!("ai.inference.{unit}")),
            ..rule(
                "s3_ai_inference",
                3,
                "purchased_goods_and_services",
                "estimate",
                "",
            )
        }],
        (A::Spend, "GBP" | "EUR" | "USD") => vec![Rule {
            source: Source::Spend,
            ..rule(
                "s3_spend",
                3,
                "purchased_goods_and_services",
                "spend_based",
                "",
            )
        }],
        _ => Vec::new(),
    }
}

/// Whether a kind's rules depend on its detail (fuel, travel mode, spend
/// category): the factor rows then carry it.
pub fn by_detail(t: ActivityType) -> bool {
    matches!(
        t,
        ActivityType::Fuel | ActivityType::Travel | ActivityType::Spend
    )
}
