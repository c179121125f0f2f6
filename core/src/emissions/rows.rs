//! The factor rows a batch of activity values needs, for storage to apply
//! in SQL: one row per kind present (activity type, unit, detail where the
//! rules read it, reporting year) and line, each the line's factor for one
//! unit of activity. Storage multiplies each day's summed values by its
//! row's factor, so a page of 17,520 half-hours carries a few rows of
//! factors, not 87,600 computed lines.

use chrono::Datelike;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use super::factors::factors;
use super::lines::{lines, Activity, Settings};
use super::rules::by_detail;
use crate::sync::record::{ActivityRecord, ActivityType};

/// What the rules tell apart: (type, unit, detail or '', year).
pub type Kind = (ActivityType, String, String, i32);

/// The kinds of a batch of records.
pub fn kinds(records: &[ActivityRecord]) -> BTreeSet<Kind> {
    records
        .iter()
        .map(|r| kind(r.activity_type, &r.unit, &r.detail, r.period_start.year()))
        .collect()
}

/// One kind (the detail dropped where the rules do not read it).
pub fn kind(t: ActivityType, unit: &str, detail: &str, year: i32) -> Kind {
    let detail = if by_detail(t) { detail } else { "" };
    (t, unit.to_owned(), detail.to_owned(), year)
}

/// `[{"t", "u", "d", "y", "l", "sc", "ca", "m", "fid", "ref", "ed", "ch",
/// "fu", "f", "g1", "g2", "g3", "rg"}]`: type, unit, detail (null: any),
/// year, line, scope, category, method, factor id and reference, edition
/// and why, factor unit, factor, gases per unit, regional replacement.
pub fn factor_rows<'a>(kinds: impl IntoIterator<Item = &'a Kind>, settings: &Settings) -> Value {
    let mut rows = Vec::new();
    for (activity_type, unit, detail, year) in kinds {
        let one = Activity {
            activity_type: *activity_type,
            unit,
            detail,
            quantity: 1.0,
            year: *year,
        };
        for l in lines(&one, factors(), settings) {
            let (g1, g2, g3) = match l.gases {
                Some((a, b, c)) => (Some(a), Some(b), Some(c)),
                None => (None, None, None),
            };
            rows.push(json!({
                "t": activity_type.as_str(), "u": unit,
                "d": if by_detail(*activity_type) { Some(detail) } else { None },
                "y": year, "l": l.line,
                "sc": l.scope, "ca": l.category, "m": l.method, "fid": l.factor_id,
                "ref": l.factor_ref, "ed": l.edition, "ch": l.edition_choice,
                "fu": l.factor_unit, "f": l.factor, "g1": g1, "g2": g2, "g3": g3,
                "rg": l.regional,
            }));
        }
    }
    Value::Array(rows)
}

/// The rows storage adds when any line may be regional: the location-based
/// line from the regional half-hourly intensity, and the T&D losses it
/// already includes (zero on top). Factor 0: the line's own figure is the
/// sum of each value times its half-hour's intensity.
pub fn regional_rows() -> Value {
    let row = |line: &str, scope: u8, category: &str, method: &str, reference: &str| {
        json!({
            "l": line, "sc": scope, "ca": category, "m": method,
            "fid": REGIONAL_FACTOR_ID, "ref": reference, "ed": "neso-carbon-intensity-regional",
            "ch": REGIONAL_CHOICE, "fu": "kWh", "f": 0.0, "g1": null, "g2": null, "g3": null,
        })
    };
    json!([
        row("s2_location", 2, "purchased_electricity", "location",
            "NESO Carbon Intensity API, regional half-hourly intensity (gCO2/kWh / 1000): CO2 only, from generation, including network losses"),
        row("s3_td_losses", 3, "fuel_and_energy_related", "td_losses",
            "Included in the regional half-hourly intensity: not added on top"),
    ])
}

pub const REGIONAL_FACTOR_ID: &str = "neso/regional_half_hourly";
pub const REGIONAL_CHOICE: &str = "half_hourly";
