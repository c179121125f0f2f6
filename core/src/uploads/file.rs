//! A CSV file and the upload's query: the header read against the
//! templates' columns, each line read as a row (see [`super::read_rows`]).

use chrono::{DateTime, Utc};

use super::rows::{clip, Fields};
use super::templates::{Template, TEMPLATES};
use super::{known_columns, not_carried, read_rows, MAX_ROWS};
use crate::error::ApiError;
use crate::sync::ActivityRecord;

/// An upload's query: `type` alone, at most once, the data type rows
/// without a `type` column are read as. Checked before the file, so a bad
/// query is refused whatever the file says: a name that is no data type is
/// a 400, a data type this integration does not carry a 422 naming `type`.
pub fn upload_type(
    query: &[(String, String)],
    accepted: &[&'static str],
) -> Result<Option<&'static str>, ApiError> {
    let mut named = None;
    for (key, value) in query {
        if key != "type" {
            return Err(ApiError::invalid_param(
                key,
                format!("unknown query parameter `{}`; expected type", clip(key)),
            ));
        }
        if named.is_some() {
            return Err(ApiError::invalid_param(
                "type",
                "`type` is given more than once",
            ));
        }
        let Some(template) = Template::get(value) else {
            let all: Vec<&str> = TEMPLATES.iter().map(|t| t.data_type).collect();
            return Err(ApiError::invalid_param(
                "type",
                format!(
                    "'{}' is not a data type: one of {}",
                    clip(value),
                    all.join(", ")
                ),
            ));
        };
        named = Some(template.data_type);
    }
    match named {
        Some(name) if !accepted.contains(&name) => {
            Err(ApiError::unprocessable("type", not_carried(name, accepted)))
        }
        _ => Ok(named),
    }
}

struct CsvRow<'h> {
    header: &'h [String],
    cells: Vec<String>,
}

impl Fields for CsvRow<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        let i = self.header.iter().position(|h| h == column)?;
        self.cells
            .get(i)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

fn file_error(message: impl Into<String>) -> ApiError {
    ApiError::unprocessable("file", message)
}

/// A CSV file (UTF-8, a header row) to records. Row numbers in errors are
/// the file's line numbers as a spreadsheet shows them (the header is 1).
pub fn parse_csv(
    bytes: &[u8],
    default_type: Option<&str>,
    accepted: &[&'static str],
    now: DateTime<Utc>,
) -> Result<Vec<ActivityRecord>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(bytes);
    let header: Vec<String> = match reader.byte_headers() {
        Ok(h) => h
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_ascii_lowercase())
            .collect(),
        Err(e) => return Err(file_error(format!("the header row cannot be read: {e}"))),
    };
    let known = known_columns();
    if let Some(unknown) = header.iter().find(|h| !known.contains(&h.as_str())) {
        return Err(file_error(format!(
            "unknown column '{}'; the columns are {} (see the templates)",
            unknown.chars().take(40).collect::<String>(),
            known.join(", ")
        )));
    }
    let missing: Vec<_> = ["start", "end", "quantity", "unit"]
        .into_iter()
        .filter(|c| !header.iter().any(|h| h == c))
        .collect();
    if !missing.is_empty() {
        return Err(file_error(format!(
            "the header lacks {}",
            missing.join(", ")
        )));
    }
    let width = header.len();
    let mut count = 0usize;
    let mut too_many = false;
    let rows = reader.byte_records().map_while(|result| {
        count += 1;
        if count > MAX_ROWS {
            too_many = true;
            return None;
        }
        let at = format!("rows[{}]", count + 1);
        let row = match result {
            Err(e) => Err(("line".into(), format!("cannot be read as CSV: {e}"))),
            Ok(r) if r.len() != width => Err((
                "line".into(),
                format!("has {} fields where the header has {width}", r.len()),
            )),
            Ok(r) => r
                .iter()
                .map(|c| std::str::from_utf8(c).map(|s| s.trim().to_owned()))
                .collect::<Result<Vec<_>, _>>()
                .map(|cells| CsvRow {
                    header: &header,
                    cells,
                })
                .map_err(|_| {
                    (
                        "line".into(),
                        "is not UTF-8 text (save the file as CSV UTF-8)".into(),
                    )
                }),
        };
        Some((at, row))
    });
    let records = read_rows(rows, default_type, accepted, now)?;
    if too_many {
        return Err(file_error(format!(
            "the file has more than {MAX_ROWS} rows; split it"
        )));
    }
    if records.is_empty() {
        return Err(file_error("the file has no rows under its header"));
    }
    Ok(records)
}
