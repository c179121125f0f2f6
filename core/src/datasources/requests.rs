//! Request bodies for creating, changing and authorising datasources,
//! validated once at the boundary into types the rest of the code trusts.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{DEFAULT_SYNC_MINUTES, MAX_SYNC_MINUTES, MIN_SYNC_MINUTES};
use crate::catalog::model::{AuthType, Integration};
use crate::catalog::{self, Entry};
use crate::error::{ApiError, FieldError};
use crate::providers;

const MAX_NAME: usize = 200;
/// The longest credential value, in characters.
pub const MAX_FIELD: usize = 4096;
const MAX_SETTINGS_BYTES: usize = 16 * 1024;

/// `POST /api/v1/datasources` as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    pub integration_id: String,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub credentials: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub settings: Option<Value>,
    #[serde(default, deserialize_with = "crate::whole::optional_u32")]
    pub sync_frequency_minutes: Option<u32>,
}

/// A create request that passed every check that needs no provider call.
#[derive(Debug)]
pub struct NewDatasource {
    pub entry: &'static Entry,
    pub display_name: String,
    pub credentials: BTreeMap<String, String>,
    pub settings: Value,
    pub sync_frequency_minutes: u32,
}

/// `PUT /api/v1/datasources/{id}`: every field optional, at least one given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub settings: Option<Value>,
    #[serde(default, deserialize_with = "crate::whole::optional_u32")]
    pub sync_frequency_minutes: Option<u32>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub credentials: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default)]
pub struct Changes {
    pub display_name: Option<String>,
    pub settings: Option<Value>,
    pub sync_frequency_minutes: Option<u32>,
    pub enabled: Option<bool>,
    pub credentials: Option<BTreeMap<String, String>>,
}

/// `POST /api/v1/datasources/oauth/authorize`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBody {
    pub integration_id: String,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub display_name: Option<String>,
    /// Re-authorise an existing connection (after `reauth_required`).
    pub datasource_id: Option<String>,
}

#[derive(Default)]
pub(super) struct Errors(Vec<FieldError>);

impl Errors {
    pub(super) fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::Unprocessable { errors: self.0 })
        }
    }
}

/// The catalog entry for an id, or a 422 on `field`.
pub fn integration(id: &str, field: &str) -> Result<&'static Entry, ApiError> {
    catalog::catalog()
        .get(id)
        .ok_or_else(|| ApiError::unprocessable(field, format!("unknown integration {id:?}")))
}

/// A name as sent: 1 to 200 characters, not all of them blank (the
/// document's `minLength`, `maxLength` and `pattern: \S`), kept trimmed.
fn check_name(errors: &mut Errors, name: Option<&str>, fallback: &str) -> String {
    let Some(given) = name else {
        return fallback.to_owned();
    };
    let name = given.trim();
    if name.is_empty() || given.chars().count() > MAX_NAME {
        errors.add(
            "display_name",
            format!("must be 1 to {MAX_NAME} characters, not all blank"),
        );
    }
    name.to_owned()
}

fn check_settings(errors: &mut Errors, settings: Option<Value>) -> Value {
    match settings {
        None => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => {
            if v.to_string().len() > MAX_SETTINGS_BYTES {
                errors.add(
                    "settings",
                    format!("must be at most {MAX_SETTINGS_BYTES} bytes of JSON"),
                );
            }
            let horizon = v.get("sync_horizon_days");
            if horizon.is_some() && crate::sync::plan::horizon_setting(&v).is_none() {
                errors.add(
                    "settings.sync_horizon_days",
                    format!(
                        "must be a whole number of days from 1 to {}",
                        crate::sync::plan::MAX_HORIZON_DAYS
                    ),
                );
            }
            for (field, message) in crate::emissions::lines::Settings::problems(&v) {
                errors.add(format!("settings.{field}"), message);
            }
            v
        }
        Some(_) => {
            errors.add("settings", "must be a JSON object");
            Value::Null
        }
    }
}

fn check_frequency(errors: &mut Errors, minutes: Option<u32>, default: u32) -> u32 {
    let minutes = minutes.unwrap_or(default);
    if !(MIN_SYNC_MINUTES..=MAX_SYNC_MINUTES).contains(&minutes) {
        errors.add(
            "sync_frequency_minutes",
            format!("must be from {MIN_SYNC_MINUTES} to {MAX_SYNC_MINUTES}"),
        );
    }
    minutes
}

/// Every credential field the catalog declares is required and must match
/// its pattern; fields it does not declare are refused.
fn check_credentials(
    errors: &mut Errors,
    integration: &Integration,
    given: &BTreeMap<String, String>,
) {
    for field in &integration.credential_fields {
        let path = format!("credentials.{}", field.name);
        match given.get(&field.name).filter(|v| !v.trim().is_empty()) {
            None => errors.add(path, "is required"),
            Some(v) if v.chars().count() > MAX_FIELD => {
                errors.add(path, format!("must be at most {MAX_FIELD} characters"))
            }
            Some(v) => {
                let matches = field
                    .pattern
                    .as_deref()
                    .is_none_or(|p| regex_lite::Regex::new(p).is_ok_and(|re| re.is_match(v)));
                if !matches {
                    errors.add(path, format!("does not look like a valid {}", field.label));
                }
            }
        }
    }
    for name in given.keys() {
        if !integration
            .credential_fields
            .iter()
            .any(|f| &f.name == name)
        {
            errors.add(
                format!("credentials.{name}"),
                "is not a field of this integration",
            );
        }
    }
}

/// How a datasource for an integration is created, if it can be yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    /// `POST /api/v1/datasources`: with credentials the provider checks, or
    /// none for data people send (files, typed readings, webhooks).
    Direct,
    /// `POST /api/v1/datasources/oauth/authorize`, then the callback.
    OAuth,
}

pub fn connect_method(i: &Integration) -> Option<Connect> {
    match providers::provider(&i.id) {
        None if i.auth_type.fed_by_people() => Some(Connect::Direct),
        None => None,
        Some(p) if p.oauth().is_some() => Some(Connect::OAuth),
        Some(_) => Some(Connect::Direct),
    }
}

/// The catalog ids connected by `method`, in catalog order (the OpenAPI
/// document lists them as the `integration_id` enums).
pub fn ids_connected_by(method: Connect) -> Vec<&'static str> {
    catalog::catalog()
        .entries()
        .iter()
        .filter(|e| connect_method(&e.integration) == Some(method))
        .map(|e| e.integration.id.as_str())
        .collect()
}

impl CreateBody {
    pub fn validate(self) -> Result<NewDatasource, ApiError> {
        let entry = integration(&self.integration_id, "integration_id")?;
        let i = &entry.integration;
        match connect_method(i) {
            Some(Connect::Direct) => {}
            None => {
                return Err(ApiError::unprocessable(
                    "integration_id",
                    format!("connecting {} is not supported yet", i.name),
                ))
            }
            Some(Connect::OAuth) => {
                return Err(ApiError::unprocessable(
                    "integration_id",
                    format!(
                        "{} connects with OAuth: use POST /api/v1/datasources/oauth/authorize",
                        i.name
                    ),
                ))
            }
        }
        let mut errors = Errors::default();
        let display_name = check_name(&mut errors, self.display_name.as_deref(), &i.name);
        check_credentials(&mut errors, i, &self.credentials);
        let settings = check_settings(&mut errors, self.settings);
        let sync_frequency_minutes = check_frequency(
            &mut errors,
            self.sync_frequency_minutes,
            providers::default_sync_minutes(i),
        );
        errors.finish(NewDatasource {
            entry,
            display_name,
            credentials: self.credentials,
            settings,
            sync_frequency_minutes,
        })
    }
}

impl AuthorizeBody {
    /// The name the connection will have, checked as create checks it:
    /// absent takes `fallback` (the integration's name); given, as
    /// [`check_name`] says.
    pub fn checked_name(&self, fallback: &str) -> Result<String, ApiError> {
        let mut errors = Errors::default();
        let name = check_name(&mut errors, self.display_name.as_deref(), fallback);
        errors.finish(name)
    }
}

impl UpdateBody {
    pub fn validate(self, integration: &Integration) -> Result<Changes, ApiError> {
        let mut errors = Errors::default();
        let empty = self.display_name.is_none()
            && self.settings.is_none()
            && self.sync_frequency_minutes.is_none()
            && self.enabled.is_none()
            && self.credentials.is_none();
        if empty {
            errors.add(".", "give at least one of display_name, settings, sync_frequency_minutes, enabled, credentials");
        }
        let display_name = self
            .display_name
            .as_deref()
            .map(|n| check_name(&mut errors, Some(n), ""));
        let settings = self.settings.map(|s| check_settings(&mut errors, Some(s)));
        let sync_frequency_minutes = self
            .sync_frequency_minutes
            .map(|m| check_frequency(&mut errors, Some(m), DEFAULT_SYNC_MINUTES));
        if let Some(creds) = &self.credentials {
            if integration.auth_type == AuthType::OAuth2 {
                errors.add(
                    "credentials",
                    "OAuth connections are re-authorised, not edited",
                );
            } else {
                check_credentials(&mut errors, integration, creds);
            }
        }
        errors.finish(Changes {
            display_name,
            settings,
            sync_frequency_minutes,
            enabled: self.enabled,
            credentials: self.credentials,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(body: Value) -> Result<NewDatasource, ApiError> {
        serde_json::from_value::<CreateBody>(body)
            .unwrap()
            .validate()
    }

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Unprocessable { errors } => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn valid_octopus_request_passes() {
        let ok = create(json!({"integration_id": "octopus-energy", "display_name": " Head office ",
            "credentials": {"api_key": "sk_live_abcdefghijklmnop", "account_number": "A-1B2C3D4E"}}))
        .unwrap();
        assert_eq!(ok.display_name, "Head office");
        assert_eq!(ok.sync_frequency_minutes, DEFAULT_SYNC_MINUTES);
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = create(json!({"integration_id": "octopus-energy", "display_name": "",
            "credentials": {"api_key": "nope", "extra": "x"}, "sync_frequency_minutes": 1, "settings": []}))
        .unwrap_err();
        let mut names = fields(err);
        names.sort();
        assert_eq!(
            names,
            vec![
                "credentials.account_number",
                "credentials.api_key",
                "credentials.extra",
                "display_name",
                "settings",
                "sync_frequency_minutes",
            ]
        );
    }

    #[test]
    fn unknown_unsupported_and_oauth_integrations_are_refused() {
        for id in ["no-such", "solaredge", "xero"] {
            let err = create(json!({"integration_id": id})).unwrap_err();
            assert_eq!(fields(err), vec!["integration_id"], "{id}");
        }
    }

    #[test]
    fn update_needs_a_field_and_validates_credentials() {
        let i = &catalog::catalog()
            .get("octopus-energy")
            .unwrap()
            .integration;
        let empty: UpdateBody = serde_json::from_value(json!({})).unwrap();
        assert!(empty.validate(i).is_err());
        let bad: UpdateBody =
            serde_json::from_value(json!({"credentials": {"api_key": "x"}})).unwrap();
        assert!(bad.validate(i).is_err());
        let ok: UpdateBody = serde_json::from_value(json!({"enabled": false})).unwrap();
        assert_eq!(ok.validate(i).unwrap().enabled, Some(false));
        let xero = &catalog::catalog().get("xero").unwrap().integration;
        let oauth: UpdateBody = serde_json::from_value(json!({"credentials": {}})).unwrap();
        assert!(oauth.validate(xero).is_err());
    }
}
