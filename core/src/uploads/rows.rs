//! One row (a CSV line or a JSON reading) to one [`ActivityRecord`], or
//! the reasons it cannot be one, column by column.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde_json::json;

use super::templates::{Convert, Template};
use crate::sync::london;
use crate::sync::{ActivityRecord, ActivityType};

/// The UK gas volume correction factor (Gas (Calculation of Thermal
/// Energy) Regulations), as Octopus gas uses.
const VOLUME_CORRECTION: f64 = 1.02264;
const DEFAULT_CALORIFIC_VALUE: f64 = 39.5;
/// The longest period one row may cover (a year's bill, with slack).
const MAX_PERIOD_DAYS: i64 = 367;
pub const MAX_LABEL: usize = 100;
/// Quantities stay below this, in the unit given: converted (MWh to kWh,
/// million tokens to tokens) and multiplied by any factor, the figure is
/// still a finite number to store.
pub const MAX_QUANTITY: f64 = 1e15;

/// A row's fields by column name (already trimmed; empty = absent).
pub trait Fields {
    fn get(&self, column: &str) -> Option<&str>;
}

/// (column, reason)
pub type RowProblems = Vec<(String, String)>;

/// How `estimated` may be written, in any case: yes, then no.
pub const ESTIMATED: &[&str] = &["yes", "y", "true", "1", "e", "estimated"];
pub const ACTUAL: &[&str] = &["no", "n", "false", "0", "a", "actual"];
/// The calorific values accepted, MJ/m3.
pub const CALORIFIC_VALUES: std::ops::RangeInclusive<f64> = 30.0..=50.0;

fn bool_field(v: &str) -> Option<bool> {
    let is = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(v));
    if is(ESTIMATED) {
        Some(true)
    } else if is(ACTUAL) {
        Some(false)
    } else {
        None
    }
}

enum When {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

fn when(v: &str) -> Option<When> {
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(When::Date(d));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%d/%m/%Y") {
        return Some(When::Date(d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(When::Instant(t.with_timezone(&Utc)));
    }
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
    .map(|local| When::Instant(london::to_utc(local)))
}

/// Reads a row against its template. `now` bounds the period: data cannot
/// describe the future.
pub fn record(
    t: &Template,
    f: &dyn Fields,
    now: DateTime<Utc>,
) -> Result<ActivityRecord, RowProblems> {
    let mut bad: RowProblems = Vec::new();
    let mut problem = |c: &str, m: String| bad.push((c.to_owned(), m));

    let start = match f.get("start").map(|v| (v, when(v))) {
        None => {
            problem("start", "is required".into());
            None
        }
        Some((_, Some(When::Date(d)))) => Some(london::midnight(d)),
        Some((_, Some(When::Instant(t)))) => Some(t),
        Some((v, None)) => {
            problem(
                "start",
                format!(
                    "'{}' is not a date (2026-01-31 or 31/01/2026) or a date and time",
                    clip(v)
                ),
            );
            None
        }
    };
    let end = match f.get("end").map(|v| (v, when(v))) {
        None => {
            problem("end", "is required".into());
            None
        }
        // A date alone is inclusive: the period runs to the next midnight.
        Some((_, Some(When::Date(d)))) => d.succ_opt().map(london::midnight),
        Some((_, Some(When::Instant(t)))) => Some(t),
        Some((v, None)) => {
            problem(
                "end",
                format!("'{}' is not a date or a date and time", clip(v)),
            );
            None
        }
    };
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            problem("end", "is not after start".into());
        } else if e - s > Duration::days(MAX_PERIOD_DAYS) {
            problem(
                "end",
                format!("the period is longer than {MAX_PERIOD_DAYS} days; split it"),
            );
        } else if e > now + Duration::days(1) {
            problem("end", "is in the future".into());
        }
    }

    let quantity = match f.get("quantity") {
        None => {
            problem("quantity", "is required".into());
            None
        }
        Some(v) => {
            match v.parse::<f64>() {
                Ok(q) if (0.0..MAX_QUANTITY).contains(&q) => Some(q),
                Ok(_) => {
                    problem("quantity", "must be a number from 0 to below 10^15".into());
                    None
                }
                Err(_) => {
                    problem("quantity", format!("'{}' is not a number (use a dot for decimals, no thousands separators)", clip(v)));
                    None
                }
            }
        }
    };
    let names = || {
        t.units
            .iter()
            .map(|u| u.names[0])
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unit = match f.get("unit") {
        None => {
            problem("unit", format!("is required ({})", names()));
            None
        }
        Some(v) => {
            let u = t.unit(v);
            if u.is_none() {
                problem(
                    "unit",
                    format!(
                        "'{}' is not a unit for {} ({})",
                        clip(v),
                        t.data_type,
                        names()
                    ),
                );
            }
            u
        }
    };

    let reference = f.get("reference").unwrap_or("");
    if reference.chars().count() > MAX_LABEL {
        problem(
            "reference",
            format!("is longer than {MAX_LABEL} characters"),
        );
    }
    let estimated = match f.get("estimated") {
        None => false,
        Some(v) => bool_field(v).unwrap_or_else(|| {
            problem("estimated", format!("'{}' is not yes or no", clip(v)));
            false
        }),
    };

    let mut activity_type = t.activity_type;
    let mut detail = String::new();
    if let Some(d) = t.detail {
        match (f.get(d.column).or_else(|| f.get("detail")), d.values) {
            (None, _) if d.required => problem(d.column, format!("is required: {}", d.help)),
            (None, _) => {}
            (Some(v), Some(values)) => match values.iter().find(|x| x.eq_ignore_ascii_case(v)) {
                Some(x) => detail = (*x).to_owned(),
                None => problem(
                    d.column,
                    format!("'{}' is not one of {}", clip(v), values.join(", ")),
                ),
            },
            (Some(v), None) if v.chars().count() > MAX_LABEL => {
                problem(d.column, format!("is longer than {MAX_LABEL} characters"))
            }
            (Some(v), None) => detail = v.to_owned(),
        }
    }
    // Electricity's direction picks the type; it is not a detail.
    if t.activity_type == ActivityType::ElectricityImport {
        if detail == "export" {
            activity_type = ActivityType::ElectricityExport;
        }
        detail.clear();
    }

    let region = f
        .get("region")
        .filter(|_| t.extra.iter().any(|(c, _)| *c == "region"));
    if let Some(r) = region {
        if !matches!(r.parse::<u8>(), Ok(1..=17)) {
            problem(
                "region",
                format!("'{}' is not a GB region from 1 to 17", clip(r)),
            );
        }
    }
    let tariff = f
        .get("tariff")
        .filter(|_| t.extra.iter().any(|(c, _)| *c == "tariff"));
    if tariff.is_some_and(|v| v.chars().count() > MAX_LABEL) {
        problem("tariff", format!("is longer than {MAX_LABEL} characters"));
    }
    let cv = match f.get("calorific_value") {
        None => DEFAULT_CALORIFIC_VALUE,
        Some(v) => match v.parse::<f64>() {
            Ok(cv) if CALORIFIC_VALUES.contains(&cv) => cv,
            _ => {
                problem(
                    "calorific_value",
                    format!("'{}' is not a calorific value in MJ/m3 (30 to 50)", clip(v)),
                );
                DEFAULT_CALORIFIC_VALUE
            }
        },
    };

    let (Some(start), Some(end), Some(q), Some(unit)) = (start, end, quantity, unit) else {
        return Err(bad);
    };
    if !bad.is_empty() {
        return Err(bad);
    }
    let (quantity, conversion) = match unit.convert {
        Convert::Factor(1.0) => (q, None),
        Convert::Factor(k) => (
            q * k,
            Some(json!({"from_unit": unit.names[0], "from_quantity": q, "factor": k})),
        ),
        Convert::GasVolume(m3) => {
            let kwh = q * m3 * VOLUME_CORRECTION * cv / 3.6;
            let rule = json!({
                "from_unit": unit.names[0],
                "from_quantity": q,
                "cubic_metres_per_unit": m3,
                "volume_correction": VOLUME_CORRECTION,
                "calorific_value_mj_per_m3": cv,
                "rule": "kWh = m3 x volume_correction x calorific_value / 3.6",
            });
            (kwh, Some(rule))
        }
    };
    Ok(ActivityRecord {
        stream: reference.to_owned(),
        activity_type,
        detail,
        period_start: start,
        period_end: end,
        quantity,
        unit: unit.stored.to_owned(),
        estimated,
        region: region.map(str::to_owned),
        tariff: tariff.map(str::to_owned),
        conversion,
    })
}

/// A value quoted back in an error, cut short.
pub(crate) fn clip(v: &str) -> String {
    let cut: String = v.chars().filter(|c| !c.is_control()).take(40).collect();
    if cut.chars().count() < v.chars().count() {
        format!("{cut}...")
    } else {
        cut
    }
}
