//! Data that arrives without a provider API: CSV files (`POST
//! /datasources/{id}/uploads`) and manual readings (`POST
//! /datasources/{id}/readings`). Both are validated row by row against a
//! [`templates::Template`] and either become activity records in full or
//! are refused in full, with every bad row named (up to a cap).

mod file;
pub mod multipart;
pub mod rows;
pub mod templates;

pub use file::{parse_csv, upload_type};

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::catalog::model::DataType;
use crate::error::{ApiError, FieldError};
use crate::sync::ActivityRecord;
use rows::{clip, Fields};
use templates::{Template, COMMON, TEMPLATES};

/// The largest file accepted (413 above): a few years of half-hourly data
/// for one meter, or a large ledger export.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Rows per file: one atomic D1 write stays small enough.
pub const MAX_ROWS: usize = 60_000;
/// Readings per request.
pub const MAX_READINGS: usize = 1_000;
/// Bad rows listed in a 422; the rest are counted.
pub const MAX_LISTED: usize = 50;

/// The data types a row may carry: the integration's catalog data types
/// that have a template.
pub fn accepted_types(catalog_types: &[DataType]) -> Vec<&'static str> {
    TEMPLATES
        .iter()
        .map(|t| t.data_type)
        .filter(|d| catalog_types.iter().any(|c| c.as_str() == *d))
        .collect()
}

/// Collects row problems, listing the first [`MAX_LISTED`].
struct Problems {
    listed: Vec<FieldError>,
    rows: usize,
}

impl Problems {
    fn new() -> Self {
        Problems {
            listed: Vec::new(),
            rows: 0,
        }
    }

    fn row(&mut self, at: &str, problems: Vec<(String, String)>) {
        self.rows += 1;
        for (column, message) in problems {
            if self.listed.len() < MAX_LISTED {
                self.listed.push(FieldError {
                    field: if column.is_empty() {
                        at.to_owned()
                    } else {
                        format!("{at}.{column}")
                    },
                    message,
                });
            }
        }
    }

    fn finish(mut self, records: Vec<ActivityRecord>) -> Result<Vec<ActivityRecord>, ApiError> {
        if self.rows == 0 {
            return Ok(records);
        }
        self.listed.push(FieldError {
            field: "rows".into(),
            message: format!(
                "{} row(s) have errors; nothing was stored. Fix them and send it again.",
                self.rows
            ),
        });
        Err(ApiError::Unprocessable {
            errors: self.listed,
        })
    }
}

type Key = (&'static str, String, String, DateTime<Utc>, DateTime<Utc>);

fn key(r: &ActivityRecord) -> Key {
    (
        r.activity_type.as_str(),
        r.stream.clone(),
        r.detail.clone(),
        r.period_start,
        r.period_end,
    )
}

/// Which template a row is read with: its `type` column, else the
/// request's, else the integration's only one.
fn template_for(
    row_type: Option<&str>,
    default: Option<&str>,
    accepted: &[&'static str],
) -> Result<&'static Template, (String, String)> {
    let named = row_type.or(default).or(match accepted {
        [only] => Some(*only),
        _ => None,
    });
    match named {
        None => Err((
            "type".into(),
            format!("is required: one of {}", accepted.join(", ")),
        )),
        Some(name) if accepted.contains(&name) => {
            Template::get(name).ok_or_else(|| ("type".into(), format!("'{name}' has no template")))
        }
        Some(name) => Err(("type".into(), not_carried(name, accepted))),
    }
}

/// Why a type named in a row or a query is refused.
fn not_carried(name: &str, accepted: &[&str]) -> String {
    format!(
        "'{}' is not a data type this integration carries ({})",
        clip(name),
        accepted.join(", ")
    )
}

/// Reads rows into records, refusing the whole set if any row is bad or
/// two rows are the same period of the same thing.
fn read_rows<'a, F: Fields + 'a>(
    rows: impl Iterator<Item = (String, Result<F, (String, String)>)>,
    default: Option<&str>,
    accepted: &[&'static str],
    now: DateTime<Utc>,
) -> Result<Vec<ActivityRecord>, ApiError> {
    let mut problems = Problems::new();
    let mut records = Vec::new();
    let mut seen: HashMap<Key, String> = HashMap::new();
    for (at, row) in rows {
        let row = match row {
            Ok(r) => r,
            Err(p) => {
                problems.row(&at, vec![p]);
                continue;
            }
        };
        let template = match template_for(row.get("type"), default, accepted) {
            Ok(t) => t,
            Err(p) => {
                problems.row(&at, vec![p]);
                continue;
            }
        };
        match rows::record(template, &row, now) {
            Ok(rec) => {
                if let Some(first) = seen.get(&key(&rec)) {
                    let said =
                        format!("repeats {first}: the same type, reference, detail and period");
                    problems.row(&at, vec![("start".into(), said)]);
                    continue;
                }
                seen.insert(key(&rec), at.clone());
                records.push(rec);
            }
            Err(p) => problems.row(&at, p),
        }
    }
    problems.finish(records)
}

/// Every column a file or a reading may carry (any template's, plus
/// `type` and `detail`), sorted.
pub fn known_columns() -> Vec<&'static str> {
    let mut known: Vec<&str> = COMMON.iter().map(|(c, _)| *c).collect();
    known.extend(["type", "detail"]);
    for t in TEMPLATES {
        known.extend(t.detail.map(|d| d.column));
        known.extend(t.extra.iter().map(|(c, _)| *c));
    }
    known.sort_unstable();
    known.dedup();
    known
}

struct JsonRow(HashMap<String, String>);

impl Fields for JsonRow {
    fn get(&self, column: &str) -> Option<&str> {
        self.0
            .get(column)
            .map(|s| s.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A JSON array of readings (objects with the template's columns as
/// fields, and `type`) to records.
pub fn parse_readings(
    value: &Value,
    accepted: &[&'static str],
    now: DateTime<Utc>,
) -> Result<Vec<ActivityRecord>, ApiError> {
    let Some(items) = value.as_array() else {
        return Err(ApiError::unprocessable(
            "",
            "expected a JSON array of readings",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::unprocessable("", "there are no readings"));
    }
    if items.len() > MAX_READINGS {
        return Err(ApiError::unprocessable(
            "",
            format!("at most {MAX_READINGS} readings per request"),
        ));
    }
    let rows = items.iter().enumerate().map(|(i, item)| {
        let at = format!("[{i}]");
        let Some(obj) = item.as_object() else {
            return (at, Err(("".into(), "is not an object".into())));
        };
        let known = known_columns();
        let mut fields = HashMap::new();
        for (k, v) in obj {
            if !known.contains(&k.as_str()) {
                return (
                    at,
                    Err((
                        k.chars().take(40).collect(),
                        "is not a field of a reading".into(),
                    )),
                );
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => continue,
                _ => {
                    return (
                        at,
                        Err((k.clone(), "must be a string, number or boolean".into())),
                    )
                }
            };
            fields.insert(k.clone(), text);
        }
        // A reading names its type, even where the integration carries one:
        // what a row holds (its unit, its detail) depends on it.
        if fields.get("type").is_none_or(|t| t.trim().is_empty()) {
            let one_of = accepted.join(", ");
            return (
                at,
                Err(("type".into(), format!("is required: one of {one_of}"))),
            );
        }
        (at, Ok(JsonRow(fields)))
    });
    read_rows(rows, None, accepted, now)
}
