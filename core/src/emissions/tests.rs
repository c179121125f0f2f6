//! The factors against the published tables, typed here independently of
//! `factors/desnz.toml`, and the lines' arithmetic.

use super::factors::{factors, Choice};
use super::lines::{lines, Activity, Market, Settings};
use crate::sync::record::ActivityType;

use super::published::PUBLISHED;

#[test]
fn every_factor_held_is_the_published_value_and_every_published_value_is_held() {
    let set = factors();
    for (edition, key, value) in PUBLISHED {
        let f = set
            .get(edition, key)
            .unwrap_or_else(|| panic!("{edition}/{key} missing"));
        assert_eq!(&f.kgco2e, value, "{edition}/{key}: digits as published");
    }
    assert_eq!(
        set.factors.len(),
        PUBLISHED.len(),
        "no factor without a published value here"
    );
    for f in &set.factors {
        assert!(
            set.editions.iter().any(|e| e.id == f.edition),
            "{}: unknown edition",
            f.id()
        );
        assert!(f.value() > 0.0 && f.value().is_finite(), "{}", f.id());
        if let Some((co2, ch4, n2o)) = f.gases() {
            // The parts add up to the total within the publication's rounding.
            let sum = co2 + ch4 + n2o;
            assert!(
                (sum - f.value()).abs() <= 0.000_015,
                "{}: {sum} vs {}",
                f.id(),
                f.value()
            );
        }
    }
    for e in &set.editions {
        assert!(
            e.sources.len() >= 2,
            "{}: every edition cites two sources",
            e.id
        );
    }
}

#[test]
fn an_activity_takes_its_reporting_years_edition_else_the_nearest_held_or_the_pinned_one() {
    let set = factors();
    let id = |y: i32, pin: Option<&str>| {
        let (e, c) = set.edition_for(y, pin).unwrap();
        (e.id.clone(), c)
    };
    assert_eq!(id(2024, None), ("desnz-2024".into(), Choice::ForYear));
    assert_eq!(id(2027, None), ("desnz-2026".into(), Choice::LatestHeld));
    assert_eq!(id(2019, None), ("desnz-2023".into(), Choice::EarliestHeld));
    assert_eq!(
        id(2026, Some("desnz-2024")),
        ("desnz-2024".into(), Choice::Pinned)
    );
    assert!(set.edition_for(2026, Some("desnz-1999")).is_none());
}

fn rel(a: f64, b: f64) -> f64 {
    ((a - b) / b).abs()
}

#[test]
fn grid_electricity_gives_scope_2_and_its_scope_3_category_3_lines_apart() {
    let a = Activity {
        activity_type: ActivityType::ElectricityImport,
        unit: "kWh",
        detail: "",
        quantity: 1234.5,
        year: 2024,
    };
    let got = lines(&a, factors(), &Settings::default());
    let by = |name: &str| got.iter().find(|l| l.line == name).unwrap();
    assert_eq!(got.len(), 5);
    let s2 = by("s2_location");
    assert_eq!(
        (s2.scope, s2.category, s2.method),
        (2, "purchased_electricity", "location")
    );
    assert_eq!(s2.factor_id, "desnz-2024/electricity.uk.generation");
    assert_eq!(s2.factor_ref, "7_400_4000_5_1");
    // 1,234.5 kWh x 0.20705 = 255.603225 kg CO2e (the published product).
    assert!(rel(s2.kgco2e, 255.603225) < 1e-12, "{}", s2.kgco2e);
    let (co2, ch4, n2o) = s2.gases.unwrap();
    assert!(
        rel(co2, 1234.5 * 0.20493) < 1e-12
            && rel(ch4, 1234.5 * 0.0009) < 1e-12
            && rel(n2o, 1234.5 * 0.00122) < 1e-12
    );
    assert!(rel(by("s3_td_losses").kgco2e, 22.59135) < 1e-12);
    assert!(rel(by("s3_wtt_generation").kgco2e, 56.66355) < 1e-12);
    assert!(rel(by("s3_wtt_td_losses").kgco2e, 4.900965) < 1e-12);
    assert!(got
        .iter()
        .filter(|l| l.scope == 3)
        .all(|l| l.category == "fuel_and_energy_related"));
}

#[test]
fn gas_gives_scope_1_and_its_well_to_tank_by_unit_and_nothing_else_emits() {
    let kwh = Activity {
        activity_type: ActivityType::Gas,
        unit: "kWh",
        detail: "",
        quantity: 10_000.0,
        year: 2025,
    };
    let got = lines(&kwh, factors(), &Settings::default());
    assert_eq!(got.len(), 2);
    assert!(rel(got[0].kgco2e, 1829.6) < 1e-12, "10,000 kWh x 0.18296");
    assert_eq!((got[0].scope, got[1].scope), (1, 3));
    let m3 = Activity {
        unit: "m3",
        quantity: 100.0,
        ..kwh
    };
    let got = lines(&m3, factors(), &Settings::default());
    assert!(rel(got[0].kgco2e, 206.672) < 1e-12, "100 m3 x 2.06672");
    assert!(rel(got[1].kgco2e, 33.66) < 1e-12, "100 m3 x 0.33660");
    for t in [
        ActivityType::ElectricityExport,
        ActivityType::ElectricityConsumption,
    ] {
        let a = Activity {
            activity_type: t,
            unit: "kWh",
            detail: "",
            quantity: 5.0,
            year: 2025,
        };
        assert!(
            lines(&a, factors(), &Settings::default()).is_empty(),
            "{t:?} never emits"
        );
    }
    let later = Activity { year: 2031, ..kwh };
    assert_eq!(
        lines(&later, factors(), &Settings::default())[0].edition_choice,
        "latest_held"
    );
}

#[test]
fn a_year_of_half_hours_sums_to_the_product_of_its_total_within_1e_9() {
    // 17,520 half-hours of awkward values: the sum of the lines equals the
    // factor times the summed kWh, as a published table would compute it.
    let mut total_kwh = 0.0f64;
    let mut sum = 0.0f64;
    let mut c = 0.0f64; // Neumaier compensation, as SQLite's SUM does
    for i in 0..17_520u32 {
        let q = 0.1 + f64::from(i % 97) * 0.0137;
        total_kwh += q;
        let a = Activity {
            activity_type: ActivityType::ElectricityImport,
            unit: "kWh",
            detail: "",
            quantity: q,
            year: 2024,
        };
        let v = lines(&a, factors(), &Settings::default())[0].kgco2e;
        let t = sum + v;
        c += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    assert!(rel(sum + c, total_kwh * 0.20705) < 1e-9);
}

#[test]
fn market_based_scope_2_follows_the_datasources_instrument() {
    let a = Activity {
        activity_type: ActivityType::ElectricityImport,
        unit: "kWh",
        detail: "",
        quantity: 1000.0,
        year: 2025,
    };
    let market = |m: Market| {
        let s = Settings {
            market: m,
            ..Settings::default()
        };
        let all = lines(&a, factors(), &s);
        all.into_iter().find(|l| l.line == "s2_market").unwrap()
    };
    let grid = market(Market::GridAverage);
    assert!(rel(grid.kgco2e, 177.0) < 1e-12);
    assert!(grid.factor_id.ends_with("#grid_average_no_residual_mix"));
    let rego = market(Market::RegoBacked);
    assert_eq!(
        (rego.kgco2e, rego.factor_id.as_str()),
        (0.0, "market/rego_backed/desnz-2025")
    );
    let supplier = market(Market::Supplier {
        factor: 0.1234,
        source: "Supplier fuel mix disclosure 2025".into(),
    });
    assert!(rel(supplier.kgco2e, 123.4) < 1e-12);
    // Each organisation's own source is its own factor row: two sources
    // with one figure never share (or show each other) a citation.
    let other = market(Market::Supplier {
        factor: 0.1234,
        source: "Acme Energy, account 12345".into(),
    });
    assert!(supplier
        .factor_id
        .starts_with("market/supplier/desnz-2025/"));
    assert_ne!(supplier.factor_id, other.factor_id);
    // Location-based is the same whatever the instrument.
    let s = Settings {
        market: Market::RegoBacked,
        ..Settings::default()
    };
    let loc = lines(&a, factors(), &s)
        .into_iter()
        .find(|l| l.line == "s2_location")
        .unwrap();
    assert!(rel(loc.kgco2e, 177.0) < 1e-12);
    let read = Settings::from_json(&serde_json::json!({
        "scope2_market": {"basis": "rego_backed"},
        "emission_factor_edition": "desnz-2024"
    }));
    assert_eq!(
        (read.market, read.pinned.as_deref()),
        (Market::RegoBacked, Some("desnz-2024"))
    );
}
