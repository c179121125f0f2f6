//! Lines beyond grid electricity and gas: fuels, travel, hotels, solar,
//! AI usage, spend; and the settings that steer them.

use super::factors::factors;
use super::lines::{lines, Activity, Location, Settings};
use crate::sync::record::ActivityType;

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

fn act(
    t: ActivityType,
    unit: &'static str,
    detail: &'static str,
    q: f64,
    year: i32,
) -> Activity<'static> {
    Activity {
        activity_type: t,
        unit,
        detail,
        quantity: q,
        year,
    }
}

fn one(a: &Activity, s: &Settings) -> super::lines::Line {
    let mut all = lines(a, factors(), s);
    assert_eq!(all.len(), 1, "{:?}", all);
    all.remove(0)
}

#[test]
fn fuels_are_scope_1_per_litre_and_unknown_fuels_give_nothing() {
    let s = Settings::default();
    let l = one(
        &act(ActivityType::Fuel, "litres", "diesel", 612.5, 2025),
        &s,
    );
    assert_eq!(
        (l.scope, l.method, l.factor_ref.as_str()),
        (1, "direct", "1_101_1011_8_1")
    );
    assert!(rel(l.kgco2e, 612.5 * 2.57082) < 1e-12);
    let (co2, _, n2o) = l.gases.unwrap();
    assert!(rel(co2, 612.5 * 2.53763) < 1e-12 && rel(n2o, 612.5 * 0.0329) < 1e-12);
    let l = one(
        &act(ActivityType::Fuel, "litres", "burning_oil", 1000.0, 2023),
        &s,
    );
    assert!(
        rel(l.kgco2e, 2540.155856375839) < 1e-12,
        "2023 stores the unrounded value"
    );
    assert!(lines(
        &act(ActivityType::Fuel, "litres", "coal", 10.0, 2025),
        factors(),
        &s
    )
    .is_empty());
    assert!(lines(
        &act(ActivityType::Fuel, "kg", "diesel", 10.0, 2025),
        factors(),
        &s
    )
    .is_empty());
}

#[test]
fn travel_is_scope_3_category_6_with_radiative_forcing_unless_the_datasource_says_not() {
    let s = Settings::default();
    let l = one(
        &act(
            ActivityType::Travel,
            "km",
            "flight_long_haul",
            11_020.0,
            2026,
        ),
        &s,
    );
    assert_eq!((l.scope, l.category), (3, "business_travel"));
    assert_eq!(l.factor_id, "desnz-2026/travel.flight_long_haul_rf.pkm");
    assert!(rel(l.kgco2e, 11_020.0 * 0.15282) < 1e-12);
    let no_rf = Settings {
        flights_without_rf: true,
        ..Settings::default()
    };
    let l = one(
        &act(
            ActivityType::Travel,
            "km",
            "flight_long_haul",
            11_020.0,
            2026,
        ),
        &no_rf,
    );
    assert!(rel(l.kgco2e, 11_020.0 * 0.09043) < 1e-12);
    let l = one(&act(ActivityType::Travel, "km", "rail", 663.05, 2026), &s);
    assert!(rel(l.kgco2e, 663.05 * 0.03092) < 1e-12);
    let l = one(&act(ActivityType::Travel, "km", "car", 100.0, 2024), &s);
    assert!(rel(l.kgco2e, 16.691) < 1e-12, "average car, unknown fuel");
    let l = one(
        &act(ActivityType::Travel, "nights", "hotel_london", 3.0, 2025),
        &s,
    );
    assert_eq!(l.method, "per_night");
    assert!(rel(l.kgco2e, 34.5) < 1e-12);
    assert!(lines(
        &act(ActivityType::Travel, "km", "ferry", 10.0, 2025),
        factors(),
        &s
    )
    .is_empty());
}

#[test]
fn solar_generation_is_avoided_emissions_outside_the_inventory() {
    let l = one(
        &act(ActivityType::SolarGeneration, "kWh", "", 250.0, 2025),
        &Settings::default(),
    );
    assert_eq!(
        (l.scope, l.category, l.method),
        (0, "avoided_emissions", "avoided")
    );
    assert!(rel(l.kgco2e, 250.0 * 0.177) < 1e-12);
}

#[test]
fn ai_tokens_are_an_estimate_converted_like_electricity() {
    let s = Settings::default();
    let out = one(
        &act(
            ActivityType::AiTokens,
            "output_tokens",
            "gpt-4o",
            1_000_000.0,
            2025,
        ),
        &s,
    );
    assert_eq!((out.scope, out.method), (3, "estimate"));
    // 1e6 tokens x 6e-7 kWh x 0.177 kg/kWh.
    assert!(rel(out.kgco2e, 1_000_000.0 * 0.0000006 * 0.177) < 1e-12);
    assert!(out
        .factor_id
        .starts_with("epoch-ai-2025/ai.inference.output_tokens*desnz-2025/"));
    let input = one(
        &act(
            ActivityType::AiTokens,
            "input_tokens",
            "claude",
            1_000_000.0,
            2026,
        ),
        &s,
    );
    assert!(rel(input.kgco2e, 1_000_000.0 * 0.00000022 * 0.13096) < 1e-12);
}

#[test]
fn spend_converts_currency_and_price_year_and_says_so() {
    let s = Settings::default();
    // Xero UK 461 Printing & Stationery, GBP 2023: x 1.2440 USD/GBP x
    // CPI 292.655/304.702 x 0.296 kg per 2022 USD.
    let l = one(&act(ActivityType::Spend, "GBP", "461", 1000.0, 2023), &s);
    assert_eq!(
        (l.scope, l.method, l.edition_choice),
        (3, "spend_based", "reporting_year")
    );
    assert!(rel(l.kgco2e, 1000.0 * 1.2440 * (292.655 / 304.702) * 0.296) < 1e-12);
    assert!(l.factor_ref.contains("322230") && l.factor_ref.contains("1.2440"));
    // 2025 spend: the latest rate held (2023) and the latest index (2024),
    // each chosen apart.
    let l = one(&act(ActivityType::Spend, "GBP", "461", 1000.0, 2025), &s);
    assert_eq!(l.edition_choice, "latest_held");
    assert!(rel(l.kgco2e, 1000.0 * 1.2440 * (292.655 / 313.689) * 0.296) < 1e-12);
    assert!(l.factor_ref.contains("2023 GBP") && l.factor_ref.contains("CPI-U 2024"));
    // US dollars need no rate: their own year's index.
    let l = one(
        &act(ActivityType::Spend, "USD", "Accountancy fees", 500.0, 2024),
        &s,
    );
    assert_eq!(l.category, "purchased_goods_and_services");
    assert!(rel(l.kgco2e, 500.0 * (292.655 / 313.689) * 0.054) < 1e-12);
    let l = one(
        &act(
            ActivityType::Spend,
            "EUR",
            "Travel - International",
            100.0,
            2022,
        ),
        &s,
    );
    assert_eq!(l.category, "business_travel");
    assert!(rel(l.kgco2e, 100.0 * 1.0534 * 0.644) < 1e-12);
    for unmapped in ["445", "Light, Power, Heating", "current account", "477", ""] {
        assert!(
            lines(
                &act(ActivityType::Spend, "GBP", unmapped, 1.0, 2024),
                factors(),
                &s
            )
            .is_empty(),
            "{unmapped}: no line"
        );
    }
}

#[test]
fn regional_lines_are_flagged_for_storage_unless_the_datasource_asks_national() {
    let a = act(ActivityType::ElectricityImport, "kWh", "", 1.0, 2025);
    let flags = |s: &Settings| -> Vec<(&str, u8)> {
        lines(&a, factors(), s)
            .iter()
            .map(|l| (l.line, l.regional))
            .filter(|x| x.1 > 0)
            .collect()
    };
    assert_eq!(
        flags(&Settings::default()),
        vec![("s2_location", 1), ("s3_td_losses", 2)]
    );
    let national = Settings {
        location: Location::National,
        ..Settings::default()
    };
    assert!(flags(&national).is_empty());
}

#[test]
fn emissions_settings_are_checked_field_by_field() {
    use serde_json::json;
    assert!(Settings::problems(&json!({})).is_empty());
    assert!(Settings::problems(&json!({"scope2_market": {"basis": "rego_backed"}, "emission_factor_edition": "desnz-2024", "scope2_location": "national", "flight_radiative_forcing": false})).is_empty());
    let bad = Settings::problems(&json!({
        "scope2_market": {"basis": "supplier", "factor": 5, "source": ""},
        "emission_factor_edition": "desnz-1999",
        "scope2_location": "moon",
        "flight_radiative_forcing": "yes"
    }));
    let fields: Vec<_> = bad.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        fields,
        [
            "scope2_market",
            "emission_factor_edition",
            "scope2_location",
            "flight_radiative_forcing"
        ]
    );
    assert_eq!(
        Settings::problems(&json!({"scope2_market": "green"}))[0].0,
        "scope2_market"
    );
}
