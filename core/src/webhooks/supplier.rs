//! Energy suppliers' pushes (`/api/v1/webhooks/{supplier}`), Standard
//! Webhooks signed with the supplier's secret. The body names the meter it
//! is about (and, where the customer gave the supplier one, the datasource)
//! and either carries readings (the manual-entry shape) or says new data is
//! ready to be synced:
//! `{"event": "readings", "mpan": "1012345678901", "datasource_id":
//! "ds_...", "readings": [...]}` or `{"event": "data_available", "mprn":
//! "1234567890"}`.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ApiError, FieldError};

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Readings to store, as `uploads::parse_readings` reads them.
    Readings(Value),
    /// New data at the supplier: sync the meter's datasources.
    DataAvailable,
}

/// A verified push, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The meter point: an MPAN (electricity) or MPRN (gas).
    pub meter: String,
    /// The datasource the customer gave the supplier, where it names one.
    pub datasource_id: Option<String>,
    pub event: Event,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    event: String,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    datasource_id: Option<String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    mpan: Option<String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    mprn: Option<String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    readings: Option<Value>,
}

fn bad(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// Reads a push (after its signature verified); anything off is a 422
/// naming each field.
pub fn parse(bytes: &[u8]) -> Result<Push, ApiError> {
    let body: Body = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::unprocessable(
            "body",
            format!("expected {{\"event\", \"mpan\" or \"mprn\", \"readings\"}} ({e})"),
        )
    })?;
    let mut errors = Vec::new();
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let meter = match (&body.mpan, &body.mprn) {
        (Some(m), None) if digits(m, 13..=13) => Some(m.clone()),
        (None, Some(m)) if digits(m, 6..=10) => Some(m.clone()),
        (Some(_), None) => {
            errors.push(bad("mpan", "an MPAN is 13 digits"));
            None
        }
        (None, Some(_)) => {
            errors.push(bad("mprn", "an MPRN is 6 to 10 digits"));
            None
        }
        _ => {
            errors.push(bad("mpan", "name exactly one meter point: mpan or mprn"));
            None
        }
    };
    let event = match (body.event.as_str(), body.readings) {
        ("readings", Some(r @ Value::Array(_))) => Some(Event::Readings(r)),
        ("readings", _) => {
            errors.push(bad("readings", "a readings event carries a readings array"));
            None
        }
        ("data_available", None) => Some(Event::DataAvailable),
        ("data_available", Some(_)) => {
            errors.push(bad(
                "readings",
                "a data_available event carries no readings",
            ));
            None
        }
        _ => {
            errors.push(bad("event", "must be readings or data_available"));
            None
        }
    };
    match (meter, event) {
        (Some(meter), Some(event)) if errors.is_empty() => Ok(Push {
            meter,
            datasource_id: body.datasource_id,
            event,
        }),
        _ => Err(ApiError::Unprocessable { errors }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_names_one_meter_and_one_event() {
        let p = parse(br#"{"event": "data_available", "mprn": "1234567890"}"#).unwrap();
        assert_eq!(
            (p.meter.as_str(), &p.event),
            ("1234567890", &Event::DataAvailable)
        );
        let p =
            parse(br#"{"event": "readings", "mpan": "1012345678901", "readings": []}"#).unwrap();
        assert!(matches!(p.event, Event::Readings(_)));
        for (body, field) in [
            (
                r#"{"event": "readings", "mpan": "1012345678901"}"#,
                "readings",
            ),
            (r#"{"event": "data_available", "mpan": "12"}"#, "mpan"),
            (
                r#"{"event": "data_available", "mpan": "1012345678901", "mprn": "123456"}"#,
                "mpan",
            ),
            (r#"{"event": "bills", "mprn": "123456"}"#, "event"),
        ] {
            match parse(body.as_bytes()) {
                Err(ApiError::Unprocessable { errors }) => {
                    assert_eq!(errors[0].field, field, "{body}")
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        assert_eq!(parse(b"[1]").unwrap_err().status(), 422);
        assert_eq!(
            parse(br#"{"event": "readings", "mpan": "1012345678901", "readings": [], "extra": 1}"#)
                .unwrap_err()
                .status(),
            422
        );
    }
}
