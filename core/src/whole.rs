//! Whole numbers in request bodies. JSON Schema's `integer` (what the
//! OpenAPI document promises) is any number without a fractional part, so
//! `30` and `30.0` are the same value; serde's integer types accept only the
//! first. Request fields typed as integers read through here.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::Value;

/// The value as a non-negative whole number: `30`, `30.0` and `3e1` alike.
pub fn as_whole(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            // 2^53: beyond it a float no longer says which integer it is.
            .filter(|f| f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(f))
            .map(|f| f as u64)
    })
}

/// `#[serde(default, deserialize_with = "crate::whole::optional_u32")]`:
/// absent is `None`; `null`, like any value that is not a whole number, is
/// refused (see [`crate::nonnull`]).
pub fn optional_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match crate::nonnull::optional::<D, Value>(d)? {
        None => Ok(None),
        Some(v) => as_whole(&v)
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                D::Error::custom(format!("invalid value: {v}, expected a whole number"))
            }),
    }
}

/// `#[serde(deserialize_with = "crate::whole::non_negative_i64")]`: a
/// required whole number from 0 to 2^53, in any JSON spelling.
pub fn non_negative_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    as_whole(&v)
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("invalid value: {v}, expected a whole number")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_numbers_in_any_json_spelling() {
        for v in [json!(30), json!(30.0), json!(3e1)] {
            assert_eq!(as_whole(&v), Some(30), "{v}");
        }
        for v in [
            json!(30.5),
            json!(-1),
            json!(-1.0),
            json!("30"),
            json!(1e300),
        ] {
            assert_eq!(as_whole(&v), None, "{v}");
        }
    }

    #[test]
    fn optional_u32_fields() {
        #[derive(serde::Deserialize)]
        struct B {
            #[serde(default, deserialize_with = "optional_u32")]
            n: Option<u32>,
        }
        let parse = |s: &str| serde_json::from_str::<B>(s).map(|b| b.n);
        assert_eq!(parse(r#"{"n": 60.0}"#).unwrap(), Some(60));
        assert_eq!(parse(r#"{"n": 60}"#).unwrap(), Some(60));
        assert_eq!(parse(r#"{}"#).unwrap(), None);
        assert!(parse(r#"{"n": null}"#).is_err());
        let err = parse(r#"{"n": 60.5}"#).unwrap_err().to_string();
        assert!(err.contains("expected a whole number"), "{err}");
        assert!(parse(r#"{"n": 4294967296}"#).is_err());
    }
}
