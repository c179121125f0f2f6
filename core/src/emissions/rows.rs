//! The factor rows a batch of activity values needs, for storage to apply
//! in SQL: one row per (activity type, unit, reporting year, line) present,
//! each the line's factor for one unit of activity. Storage multiplies each
//! value by its row's factor, so a page of 17,520 half-hours carries a few
//! rows of factors, not 87,600 computed lines.

use chrono::Datelike;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use super::factors::factors;
use super::lines::{lines, Activity, Settings};
use crate::sync::record::ActivityRecord;

/// `[{"t", "u", "y", "l", "sc", "ca", "m", "fid", "ref", "ed", "ch", "fu",
/// "f", "g1", "g2", "g3"}]`: type, unit, year, line, scope, category,
/// method, factor id and reference, edition and why, factor unit, factor,
/// gases per unit.
pub fn factor_rows(records: &[ActivityRecord], settings: &Settings) -> Value {
    let kinds: BTreeSet<_> = records
        .iter()
        .map(|r| (r.activity_type, r.unit.as_str(), r.period_start.year()))
        .collect();
    let mut rows = Vec::new();
    for (activity_type, unit, year) in kinds {
        let one = Activity {
            activity_type,
            unit,
            quantity: 1.0,
            year,
        };
        for l in lines(&one, factors(), settings) {
            let (g1, g2, g3) = match l.gases {
                Some((a, b, c)) => (Some(a), Some(b), Some(c)),
                None => (None, None, None),
            };
            rows.push(json!({
                "t": activity_type.as_str(), "u": unit, "y": year, "l": l.line,
                "sc": l.scope, "ca": l.category, "m": l.method, "fid": l.factor_id,
                "ref": l.factor_ref, "ed": l.edition, "ch": l.edition_choice,
                "fu": l.factor_unit, "f": l.factor, "g1": g1, "g2": g2, "g3": g3,
            }));
        }
    }
    Value::Array(rows)
}
