use chrono::{DateTime, Utc};
use serde_json::json;

use super::templates::TEMPLATES;
use super::*;
use crate::error::ApiError;
use crate::sync::ActivityType;

fn now() -> DateTime<Utc> {
    "2026-11-30T12:00:00Z".parse().unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

const ENERGY: &[&str] = &["electricity", "gas"];

fn errors(e: ApiError) -> Vec<(String, String)> {
    match e {
        ApiError::Unprocessable { errors } => {
            errors.into_iter().map(|f| (f.field, f.message)).collect()
        }
        other => panic!("expected 422, got {other:?}"),
    }
}

#[test]
fn every_template_downloads_and_reads_back_as_its_examples() {
    for t in TEMPLATES {
        let cols = t.columns();
        for row in t.examples {
            assert_eq!(
                row.len(),
                cols.len(),
                "{}: an example has {} cells",
                t.data_type,
                row.len()
            );
        }
        let records = parse_csv(t.csv().as_bytes(), Some(t.data_type), &[t.data_type], now())
            .unwrap_or_else(|e| panic!("{}: {e:?}", t.data_type));
        assert_eq!(records.len(), 2, "{}", t.data_type);
    }
}

#[test]
fn dates_are_uk_days_and_an_end_date_is_inclusive() {
    let csv = "start,end,quantity,unit,reference\n2026-07-01,2026-07-31,1000,kWh,M1\n01/01/2026,31/01/2026,2,MWh,M1\n";
    let r = parse_csv(csv.as_bytes(), None, &["electricity"], now()).unwrap();
    // July is in summer time: UK midnight is 23:00 UTC the day before.
    assert_eq!(r[0].period_start, utc("2026-06-30T23:00:00Z"));
    assert_eq!(r[0].period_end, utc("2026-07-31T23:00:00Z"));
    assert_eq!(r[0].activity_type, ActivityType::ElectricityImport);
    assert_eq!(r[1].period_start, utc("2026-01-01T00:00:00Z"));
    assert_eq!(r[1].period_end, utc("2026-02-01T00:00:00Z"));
    assert_eq!(r[1].quantity, 2000.0, "MWh is stored as kWh");
    assert_eq!(r[1].conversion.as_ref().unwrap()["factor"], 1000.0);
}

#[test]
fn naive_times_cross_both_clock_changes_as_uk_time() {
    let csv = "start,end,quantity,unit\n\
        2026-03-29T00:30:00,2026-03-29T02:00:00,0.5,kWh\n\
        2026-10-25 00:30,2026-10-25 01:00,0.5,kWh\n\
        2026-10-25T01:30:00+00:00,2026-10-25T02:00:00Z,0.5,kWh\n";
    let r = parse_csv(csv.as_bytes(), Some("electricity"), ENERGY, now()).unwrap();
    // 02:00 on the spring day is already BST: 01:00 UTC; the 23-hour day loses an hour.
    assert_eq!(r[0].period_start, utc("2026-03-29T00:30:00Z"));
    assert_eq!(r[0].period_end, utc("2026-03-29T01:00:00Z"));
    // 00:30 on the autumn day is still BST.
    assert_eq!(r[1].period_start, utc("2026-10-24T23:30:00Z"));
    assert_eq!(r[2].period_start, utc("2026-10-25T01:30:00Z"));
}

#[test]
fn gas_volumes_become_kwh_with_the_rule_recorded() {
    let csv = "type,start,end,quantity,unit,calorific_value\ngas,2026-02-01,2026-02-28,100,m3,40\ngas,2026-03-01,2026-03-31,1,hcf,\n";
    let r = parse_csv(csv.as_bytes(), None, ENERGY, now()).unwrap();
    assert!((r[0].quantity - 100.0 * 1.02264 * 40.0 / 3.6).abs() < 1e-9);
    assert_eq!(r[0].unit, "kWh");
    assert_eq!(
        r[0].conversion.as_ref().unwrap()["calorific_value_mj_per_m3"],
        40.0
    );
    assert!((r[1].quantity - 2.8316846592 * 1.02264 * 39.5 / 3.6).abs() < 1e-9);
}

#[test]
fn a_bad_file_names_every_bad_row_and_returns_nothing() {
    let csv = "start,end,quantity,unit,direction\n\
        2026-01-01,2026-01-31,12,kWh,import\n\
        2026-02-01,2026-01-31,12,kWh,import\n\
        2026-03-01,2026-03-31,1,2,3,4\n\
        2026-04-01,2026-04-30,1.234,5,kWh,import\n\
        2026-05-01,2026-05-31,-4,litres,sideways\n\
        2027-01-01,2027-01-31,4,kWh,\n\
        2026-01-01,2026-01-31,13,kWh,\n";
    let e = errors(parse_csv(csv.as_bytes(), Some("electricity"), ENERGY, now()).unwrap_err());
    let fields: Vec<_> = e.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "rows[3].end",
            "rows[4].line",
            "rows[5].line",
            "rows[6].quantity",
            "rows[6].unit",
            "rows[6].direction",
            "rows[7].end",
            "rows[8].start",
            "rows"
        ]
    );
    assert!(e[0].1.contains("not after start"));
    assert!(e[6].1.contains("future"));
    assert!(e[7].1.contains("repeats rows[2]"), "{}", e[7].1);
    assert!(e[8].1.starts_with("6 row(s) have errors"));
}

#[test]
fn the_list_of_errors_is_capped_but_every_bad_row_is_counted() {
    let mut csv = String::from("start,end,quantity,unit\n");
    for _ in 0..500 {
        csv.push_str("yesterday,today,lots,kWh\n");
    }
    let e = errors(parse_csv(csv.as_bytes(), Some("electricity"), ENERGY, now()).unwrap_err());
    assert_eq!(e.len(), MAX_LISTED + 1);
    assert!(e.last().unwrap().1.starts_with("500 row(s)"));
}

#[test]
fn file_level_problems() {
    let one =
        |csv: &str| errors(parse_csv(csv.as_bytes(), None, ENERGY, now()).unwrap_err()).remove(0);
    assert!(one("start,end,quantiy,unit\n")
        .1
        .contains("unknown column 'quantiy'"));
    assert!(one("start,end,unit\n").1.contains("lacks quantity"));
    assert!(one("start,end,quantity,unit\n").1.contains("no rows"));
    let typed = one("start,end,quantity,unit\n2026-01-01,2026-01-31,1,kWh\n");
    assert_eq!(
        typed.0, "rows[2].type",
        "two types accepted: the file must say which"
    );
    let foreign =
        one("type,start,end,quantity,unit,fuel\nfuel,2026-01-01,2026-01-31,1,litres,diesel\n");
    assert!(foreign
        .1
        .contains("not a data type this integration carries"));
    let bytes = b"start,end,quantity,unit,reference\n2026-01-01,2026-01-31,1,kWh,Caf\xe9\n";
    let e = errors(parse_csv(bytes, Some("gas"), ENERGY, now()).unwrap_err());
    assert!(e[0].1.contains("UTF-8"));
}

#[test]
fn a_byte_order_mark_and_crlf_are_read() {
    let csv = "\u{feff}Start,End,Quantity,Unit\r\n2026-01-01,2026-01-31,1,kWh\r\n";
    let r = parse_csv(csv.as_bytes(), Some("gas"), ENERGY, now()).unwrap();
    assert_eq!(r.len(), 1);
}

#[test]
fn details_are_part_of_the_key() {
    let csv = "start,end,quantity,unit,fuel,reference\n\
        2026-01-01,2026-01-31,10,litres,diesel,VAN\n\
        2026-01-01,2026-01-31,5,gallons,Petrol,VAN\n";
    let r = parse_csv(csv.as_bytes(), Some("fuel"), &["fuel"], now()).unwrap();
    assert_eq!(
        (r[0].detail.as_str(), r[1].detail.as_str()),
        ("diesel", "petrol")
    );
    assert!((r[1].quantity - 22.73045).abs() < 1e-9);
    assert_eq!(r[1].unit, "litres");
}

#[test]
fn readings_are_validated_like_rows() {
    let ok = json!([
        {"type": "electricity", "start": "2026-01-01", "end": "2026-01-31", "quantity": 812.5, "unit": "kWh", "reference": "1012345678901", "estimated": true},
        {"type": "electricity", "start": "2026-01-01", "end": "2026-01-31", "quantity": 40, "unit": "kWh", "reference": "1012345678901", "direction": "export"}
    ]);
    let r = parse_readings(&ok, ENERGY, now()).unwrap();
    assert!(r[0].estimated);
    assert_eq!(r[1].activity_type, ActivityType::ElectricityExport);
    let bad = json!([{"type": "gas", "start": "2026-01-01", "end": "2026-01-31", "quantity": "a lot", "unit": "kWh", "colour": "red"}, 7,
        {"start": "2026-01-01", "end": "2026-01-31", "quantity": 1, "unit": "kWh"}]);
    let e = errors(parse_readings(&bad, ENERGY, now()).unwrap_err());
    assert_eq!(e[0].0, "[0].colour");
    assert_eq!(e[1].0, "[1]");
    assert_eq!(e[2].0, "[2].type", "a reading names its type");
    assert!(
        errors(parse_readings(&json!({}), ENERGY, now()).unwrap_err())[0]
            .1
            .contains("array")
    );
}

#[test]
fn multipart_yields_the_file_part() {
    let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nstart,end\r\n1,2\r\n--XyZ--\r\n";
    let file = multipart::file_part("multipart/form-data; boundary=XyZ", body).unwrap();
    assert_eq!(file, b"start,end\r\n1,2");
    let none =
        b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ--\r\n";
    assert_eq!(
        multipart::file_part("multipart/form-data; boundary=\"XyZ\"", none)
            .unwrap_err()
            .status(),
        422
    );
    assert_eq!(
        multipart::file_part("multipart/form-data", body)
            .unwrap_err()
            .status(),
        400
    );
    assert_eq!(
        multipart::file_part("multipart/form-data; boundary=XyZ", b"--XyZ\r\nno end")
            .unwrap_err()
            .status(),
        400
    );
}

#[test]
fn the_query_names_one_carried_type_or_nothing() {
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(upload_type(&q(&[]), ENERGY).unwrap(), None);
    assert_eq!(
        upload_type(&q(&[("type", "gas")]), ENERGY).unwrap(),
        Some("gas")
    );
    let refused = |pairs: &[(&str, &str)]| upload_type(&q(pairs), ENERGY).unwrap_err();
    // Not a data type at all, or said twice: the query is malformed.
    assert_eq!(refused(&[("type", "plutonium")]).status(), 400);
    assert_eq!(refused(&[("type", "gas"), ("type", "gas")]).status(), 400);
    assert_eq!(refused(&[("kind", "gas")]).status(), 400);
    // A data type, but not this integration's.
    let e = refused(&[("type", "tokens")]);
    assert_eq!(e.status(), 422);
    assert_eq!(errors(e)[0].0, "type");
}
