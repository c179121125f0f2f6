//! Enphase v4 meter telemetry, for systems with a consumption meter
//! (formats: ../shared/PROVIDERS.md, from the Monitoring API v4 spec):
//!
//! - `GET /api/v4/systems/{id}/devices`: `{"devices": {"meters": [{"name":
//!   "consumption", "state": "enabled", "config_type": "Net", ...}]}}`;
//!   only active devices are listed. A system has site telemetry when one
//!   of its enabled meters measures consumption (named so, or configured
//!   `Net`/`Total`: the spec's two examples disagree on `name`).
//! - `.../telemetry/consumption_meter`, `.../energy_import_telemetry`,
//!   `.../energy_export_telemetry` with `start_at` (epoch s) and
//!   `granularity=week`: 15-minute intervals from `start_at` to
//!   `min(now, start + 1 week)`, each `{"end_at", "enwh"}` (consumption)
//!   or `{"end_at", "wh_imported"}` / `{"end_at", "wh_exported"}`; import
//!   and export nest them in an array of arrays. No `end_at` parameter:
//!   one call is one week at most. A start before the first report is
//!   moved to it; a start after the last interval gives `[]`.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::sync::engine::{Page, PageError};
use crate::sync::record::{ActivityRecord, ActivityType};

/// What one call covers.
pub const WEEK: Duration = Duration::days(7);
const INTERVAL_SECS: i64 = 900;

/// The meter streams of one system: (kind, path, value field, type).
pub const KINDS: [(&str, &str, &str, ActivityType); 3] = [
    (
        "consumption",
        "telemetry/consumption_meter",
        "enwh",
        ActivityType::ElectricityConsumption,
    ),
    (
        "import",
        "energy_import_telemetry",
        "wh_imported",
        ActivityType::ElectricityImport,
    ),
    (
        "export",
        "energy_export_telemetry",
        "wh_exported",
        ActivityType::ElectricityExport,
    ),
];

pub fn kind(
    name: &str,
) -> Option<&'static (&'static str, &'static str, &'static str, ActivityType)> {
    KINDS.iter().find(|k| k.0 == name)
}

/// Whether a `/devices` answer lists an enabled consumption meter.
pub fn has_consumption_meter(devices: &Value) -> bool {
    devices["devices"]["meters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["state"].as_str().is_none_or(|s| s == "enabled"))
        .any(|m| {
            let config = m["config_type"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            m["name"].as_str() == Some("consumption")
                || config.starts_with("net")
                || config.starts_with("total")
        })
}

/// Enphase reports Wh; a value is stored in kWh, saying so.
pub fn wh_record(
    stream: &str,
    activity_type: ActivityType,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    wh: f64,
) -> ActivityRecord {
    ActivityRecord {
        stream: stream.to_owned(),
        activity_type,
        detail: String::new(),
        period_start: from,
        period_end: to,
        quantity: wh / 1000.0,
        unit: "kWh".into(),
        estimated: false,
        region: None,
        tariff: None,
        conversion: Some(json!({"from_unit": "Wh", "from_quantity": wh, "factor": 0.001})),
    }
}

/// Reads one telemetry answer for the window asked, a week at most.
pub fn parse(
    stream: &str,
    kind_name: &str,
    body: &Value,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Page, PageError> {
    let (_, _, field, activity_type) = *kind(kind_name)
        .ok_or_else(|| PageError::Rejected(format!("unknown Enphase meter stream {stream}")))?;
    // The answer's own start: a meter's first report when the window began
    // before it (the API moves the start there), so a first sync does not
    // walk the empty weeks before a meter was installed.
    let start = body["start_at"]
        .as_i64()
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .filter(|t| *t > window.0)
        .unwrap_or(window.0);
    let covered_to = window.1.min(start + WEEK);
    let intervals = body["intervals"]
        .as_array()
        .ok_or_else(|| PageError::Transient("telemetry without its intervals".into()))?;
    // Import and export nest their intervals one level deeper.
    let flat = intervals
        .iter()
        .flat_map(|i| i.as_array().cloned().unwrap_or_else(|| vec![i.clone()]));
    let mut records = Vec::new();
    for interval in flat {
        let (Some(end), Some(wh)) = (interval["end_at"].as_i64(), interval[field].as_f64()) else {
            continue;
        };
        let (Some(from), Some(to)) = (
            DateTime::from_timestamp(end - INTERVAL_SECS, 0),
            DateTime::from_timestamp(end, 0),
        ) else {
            continue;
        };
        if from < window.0 || to > covered_to || !wh.is_finite() || wh < 0.0 {
            continue;
        }
        records.push(wh_record(stream, activity_type, (from, to), wh));
    }
    Ok(Page {
        records,
        covered_to,
        next: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_consumption_meter_is_found_by_name_or_by_configuration() {
        // The v4 spec's example, and the older one where both are "production".
        let named = json!({"devices": {"meters": [
            {"name": "production", "state": "enabled", "config_type": "Production"},
            {"name": "consumption", "state": "enabled", "config_type": "Net"}]}});
        let configured = json!({"devices": {"meters": [
            {"name": "production", "state": "enabled", "config_type": "Net"}]}});
        let production_only = json!({"devices": {"meters": [
            {"name": "production", "state": "enabled", "config_type": "Production"}]}});
        let disabled = json!({"devices": {"meters": [
            {"name": "consumption", "state": "disabled", "config_type": "Net"}]}});
        assert!(has_consumption_meter(&named));
        assert!(has_consumption_meter(&configured));
        assert!(!has_consumption_meter(&production_only));
        assert!(!has_consumption_meter(&disabled));
        assert!(!has_consumption_meter(&json!({"devices": {"micros": []}})));
    }

    #[test]
    fn intervals_nested_or_flat_become_quarter_hours_within_the_week_asked() {
        let from = at("2026-06-01T00:00:00Z");
        let end = |m: i64| (from + Duration::minutes(m)).timestamp();
        let nested = json!({"intervals": [[
            {"end_at": end(15), "wh_imported": 40},
            {"end_at": end(30), "wh_imported": 10}],
            [{"end_at": end(7 * 24 * 60 + 15), "wh_imported": 99}]]});
        let p = parse("s", "import", &nested, (from, from + Duration::days(30))).unwrap();
        assert_eq!(p.covered_to, from + WEEK);
        let got: Vec<_> = p
            .records
            .iter()
            .map(|r| (r.period_start, r.quantity))
            .collect();
        assert_eq!(got, [(from, 0.04), (from + Duration::minutes(15), 0.01)]);
        assert_eq!(p.records[0].activity_type, ActivityType::ElectricityImport);

        let flat = json!({"intervals": [{"end_at": end(15), "devices_reporting": 1, "enwh": 250}]});
        let p = parse("s", "consumption", &flat, (from, from + Duration::days(1))).unwrap();
        assert_eq!(p.covered_to, from + Duration::days(1));
        assert_eq!(p.records[0].quantity, 0.25);
        assert_eq!(
            p.records[0].activity_type,
            ActivityType::ElectricityConsumption
        );
        assert!(parse("s", "export", &json!({"message": "x"}), (from, from + WEEK)).is_err());
    }
}
