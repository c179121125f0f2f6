//! Optional request fields: absent means "not given", and `null` is refused
//! with a 422 naming the field. The OpenAPI document types these fields
//! without `null`, so a client that sends `{"enabled": null}` learns it at
//! once instead of the field being silently ignored.
//!
//! `#[serde(default, deserialize_with = "crate::nonnull::optional")]`

use serde::de::{Deserialize, Deserializer, Error};

pub fn optional<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(d)? {
        Some(v) => Ok(Some(v)),
        None => Err(D::Error::custom(
            "must not be null (leave the field out instead)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct B {
        #[serde(default, deserialize_with = "super::optional")]
        name: Option<String>,
    }

    #[test]
    fn absent_is_none_and_null_is_refused() {
        let parse = |s: &str| serde_json::from_str::<B>(s).map(|b| b.name);
        assert_eq!(parse(r#"{}"#).unwrap(), None);
        assert_eq!(parse(r#"{"name": "x"}"#).unwrap(), Some("x".into()));
        let err = parse(r#"{"name": null}"#).unwrap_err().to_string();
        assert!(err.contains("must not be null"), "{err}");
        assert!(parse(r#"{"name": 1}"#).is_err());
    }
}
