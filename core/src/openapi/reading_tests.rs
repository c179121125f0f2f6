//! `Reading` (typed readings, and pushed ones) states what the row reader
//! accepts: each type's units and its own column, the shared columns' forms
//! and limits. What it cannot state (real dates in order, a type the
//! integration carries, no repeated period) its description says in words.

use serde_json::{json, Map, Value};

use super::tests::doc;
use crate::uploads::known_columns;
use crate::uploads::rows::{ACTUAL, CALORIFIC_VALUES, ESTIMATED, MAX_LABEL, MAX_QUANTITY};
use crate::uploads::templates::{Detail, TEMPLATES};

/// The forms `start` and `end` take: a date, a UK local time, a time with
/// an offset (RFC 3339), or a day-first date; spaces around are trimmed.
const WHEN: &str = r"^\s*(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?|T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))?|(0[1-9]|[12]\d|3[01])/(0[1-9]|1[0-2])/\d{4})\s*$";
const REGION: &str = r"^\s*0*(1[0-7]|[1-9])\s*$";
/// A quantity written as text: at most 15 digits before the point, so below 10^15.
const QUANTITY: &str = r"^\s*\+?(\d{1,15}(\.\d*)?|\.\d+)\s*$";
const SCALAR: [&str; 4] = ["string", "number", "boolean", "null"];

/// A word in any case, as a pattern: `yes` is `[Yy][Ee][Ss]`.
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| match c {
            c if c.is_ascii_alphabetic() => {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            }
            c => c.to_string(),
        })
        .collect()
}

/// A free label: text, a number or a boolean (read as text), at most
/// MAX_LABEL characters; a required one not blank.
fn label(required: bool) -> Value {
    let types = if required { &SCALAR[..3] } else { &SCALAR[..] };
    let mut schema = json!({"type": types, "maxLength": MAX_LABEL});
    if required {
        schema["pattern"] = json!(r"\S");
    }
    schema
}

fn detail(d: &Detail) -> Value {
    match d.values {
        Some(values) if d.required => json!({ "enum": values }),
        Some(values) => {
            let mut values: Vec<Value> = values.iter().map(|v| json!(v)).collect();
            values.push(Value::Null);
            json!({ "enum": values })
        }
        None => label(d.required),
    }
}

fn expected_properties() -> Map<String, Value> {
    let when = json!({"anyOf": [
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": WHEN},
    ], "description": "2026-01-31, 31/01/2026, 2026-01-31T00:30:00 (UK time) or with an offset (2026-01-31T00:30:00Z)"});
    let words: Vec<String> = ESTIMATED
        .iter()
        .chain(ACTUAL)
        .map(|w| any_case(w))
        .collect();
    let (low, high) = (
        *CALORIFIC_VALUES.start() as u32,
        *CALORIFIC_VALUES.end() as u32,
    );
    let mut props = Map::new();
    for column in known_columns() {
        let schema = match column {
            "start" | "end" => when.clone(),
            "estimated" => json!({"anyOf": [
                {"type": "boolean"},
                {"enum": [0, 1]},
                {"type": "string", "pattern": format!(r"^\s*({})\s*$", words.join("|"))},
                {"type": "null"},
            ], "description": "yes or no (also true/false, 1/0, E/A, estimated/actual), in any case"}),
            "calorific_value" => json!({"anyOf": [
                {"type": "number", "minimum": low, "maximum": high},
                {"type": "string", "pattern": r"^\s*([34]\d(\.\d+)?|50(\.0+)?)\s*$"},
                {"type": "null"},
            ], "description": "MJ/m3, 30 to 50 (read for gas volumes; default 39.5)"}),
            "quantity" => json!({"anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": MAX_QUANTITY},
                {"type": "string", "pattern": QUANTITY},
            ], "description": "A number from 0 to below 10^15, or one written as text (a dot for decimals, no thousands separators)"}),
            "type" | "unit" => continue,
            _ => label(false),
        };
        props.insert(column.to_owned(), schema);
    }
    props
}

fn expected_branches() -> Vec<Value> {
    TEMPLATES
        .iter()
        .map(|t| {
            let units: Vec<&str> = t
                .units
                .iter()
                .flat_map(|u| u.names.iter().copied())
                .collect();
            let mut props = json!({"type": {"const": t.data_type}, "unit": {"enum": units}});
            let mut branch = json!({});
            if let Some(d) = &t.detail {
                props[d.column] = detail(d);
                props["detail"] = detail(d);
                if d.required {
                    branch["required"] = json!([d.column]);
                }
            }
            if t.extra.iter().any(|(c, _)| *c == "region") {
                props["region"] = json!({"anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": 17},
                    {"type": "string", "pattern": REGION},
                    {"type": "null"},
                ]});
            }
            branch["properties"] = props;
            branch
        })
        .collect()
}

#[test]
fn a_reading_is_the_templates_columns() {
    let doc = doc();
    let reading = &doc["components"]["schemas"]["Reading"];
    let props = reading["properties"].as_object().unwrap();
    let mut listed: Vec<&str> = props.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(listed, known_columns());
    assert_eq!(reading["additionalProperties"], false);
    assert_eq!(
        reading["required"],
        json!(["type", "start", "end", "quantity", "unit"])
    );
    for (name, expected) in expected_properties() {
        assert_eq!(
            props[&name],
            expected,
            "Reading.{name} should be {}",
            serde_json::to_string(&expected).unwrap()
        );
    }
    let branches = Value::from(expected_branches());
    assert_eq!(
        reading["oneOf"],
        branches,
        "Reading.oneOf should be {}",
        serde_json::to_string(&branches).unwrap()
    );
    let types: Vec<&str> = TEMPLATES.iter().map(|t| t.data_type).collect();
    let mut units: Vec<&str> = Vec::new();
    for name in TEMPLATES
        .iter()
        .flat_map(|t| t.units.iter().flat_map(|u| u.names))
    {
        if !units.contains(name) {
            units.push(name);
        }
    }
    assert_eq!(props["type"]["enum"], json!(types));
    assert_eq!(props["unit"]["enum"], json!(units));
}

/// What the patterns admit, the reader reads (and the other way round for
/// the forms the templates' help names).
#[test]
fn the_patterns_admit_what_the_reader_reads() {
    use crate::uploads::parse_readings;
    let re = |p: &str| regex_lite::Regex::new(p).unwrap();
    let now = "2026-11-30T12:00:00Z".parse().unwrap();
    let pairs = [
        ("2026-01-31", "2026-02-01"),
        ("31/01/2026", "01/02/2026"),
        ("2026-01-31T00:30", "2026-01-31 01:00:00"),
        ("2026-01-31T00:30:00.25Z", "2026-01-31T02:00:00+01:00"),
        (" 2026-01-31T00:30:00-00:30 ", "2026-01-31T23:59:59Z"),
    ];
    for (start, end) in pairs {
        assert!(
            re(WHEN).is_match(start) && re(WHEN).is_match(end),
            "{start} {end}"
        );
        let reading = json!([{"type": "gas", "start": start, "end": end, "quantity": 1, "unit": "kWh",
            "estimated": "Estimated", "calorific_value": "39.5"}]);
        parse_readings(&reading, &["gas"], now).unwrap_or_else(|e| panic!("{start} {end}: {e:?}"));
    }
    for bad in [
        "2026-13-01",
        "2026-01-31T24:00",
        "2026-01-31T00:30:00.5",
        "31/1/2026",
    ] {
        assert!(!re(WHEN).is_match(bad), "{bad}");
    }
    for (q, ok) in [
        ("999999999999999.9", true),
        ("+.5", true),
        ("5.", true),
        ("1000000000000000", false),
    ] {
        assert_eq!(re(QUANTITY).is_match(q), ok, "{q}");
        let reading = json!([{"type": "gas", "start": "2026-01-01", "end": "2026-01-01", "quantity": q, "unit": "MWh"}]);
        assert_eq!(parse_readings(&reading, &["gas"], now).is_ok(), ok, "{q}");
    }
    for region in ["1", "17", "09"] {
        assert!(re(REGION).is_match(region));
        let reading = json!([{"type": "electricity", "start": "2026-01-01", "end": "2026-01-01",
            "quantity": 1, "unit": "kWh", "region": region}]);
        parse_readings(&reading, &["electricity"], now).unwrap();
    }
    assert!(!re(REGION).is_match("18") && !re(REGION).is_match("0"));
}

/// A supplier's push names only the types its integration carries: the
/// document's `SupplierReading` types are each supplier's accepted types.
#[test]
fn supplier_pushes_state_the_suppliers_types() {
    use crate::catalog::catalog;
    use crate::uploads::accepted_types;
    let doc = doc();
    let listed = &doc["components"]["schemas"]["SupplierReading"]["properties"]["type"]["enum"];
    for supplier in ["octopus-energy", "british-gas"] {
        let path = format!("/api/v1/webhooks/{supplier}");
        let items = &doc["paths"][&path]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["properties"]["readings"]["items"];
        assert_eq!(
            items["$ref"], "#/components/schemas/SupplierReading",
            "{path}"
        );
        let entry = catalog().get(supplier).expect(supplier);
        assert_eq!(
            listed,
            &json!(accepted_types(&entry.integration.data_types)),
            "{supplier}"
        );
    }
}
