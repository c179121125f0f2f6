//! A user's connections to providers: request validation at the boundary
//! (`requests`), the stored record, and the view the API returns (never a
//! secret).

mod complete;
mod requests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog;
use crate::catalog::model::Integration;

pub use complete::{CompleteBody, Completion};
pub use requests::{
    connect_method, ids_connected_by, integration, AuthorizeBody, Changes, Connect, CreateBody,
    NewDatasource, UpdateBody, MAX_FIELD,
};

pub const DEFAULT_SYNC_MINUTES: u32 = 1440;
pub const MIN_SYNC_MINUTES: u32 = 15;
pub const MAX_SYNC_MINUTES: u32 = 43_200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Active,
    Error,
    ReauthRequired,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Error => "error",
            Status::ReauthRequired => "reauth_required",
            Status::Disabled => "disabled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Status::Pending,
            Status::Active,
            Status::Error,
            Status::ReauthRequired,
            Status::Disabled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// A shown-once-never-again secret becomes `••••1a2b` (last four characters
/// of the first secret field, only when long enough not to give much away).
pub fn credential_hint(
    integration: &Integration,
    fields: &BTreeMap<String, String>,
) -> Option<String> {
    let field = integration.credential_fields.iter().find(|f| f.secret)?;
    let value = fields.get(&field.name)?;
    let chars: Vec<char> = value.chars().collect();
    let tail: String = if chars.len() >= 12 {
        chars[chars.len() - 4..].iter().collect()
    } else {
        String::new()
    };
    Some(format!("{} ••••{tail}", field.label))
}

/// A JSON column built by SQLite: a text value when read as a column, the
/// object itself when nested in another `json_object` (SQLite keeps the JSON
/// subtype through a scalar subquery, as the list's one-object rows do).
fn json_column<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(text)) => serde_json::from_str(&text).ok(),
        Some(Value::Null) | None => None,
        Some(v) => Some(v),
    })
}

/// A datasource row as storage returns it. `credentials` stays encrypted.
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub id: String,
    pub user_id: String,
    pub integration_id: String,
    pub display_name: String,
    pub auth_type: String,
    pub status: String,
    pub last_error: Option<String>,
    pub settings: String,
    pub sync_frequency_minutes: u32,
    pub enabled: u8,
    pub credentials: Option<String>,
    pub credentials_version: i64,
    pub credential_hint: Option<String>,
    pub token_expires_at: Option<String>,
    pub last_synced_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Provider facts (JSON), written by probes and syncs only.
    #[serde(default)]
    pub provider_info: Option<String>,
    /// Transient refresh failures in a row.
    #[serde(default)]
    pub refresh_failures: i64,
    #[serde(default)]
    pub next_sync_at: Option<String>,
    /// `idle`, `queued`, `running`, `rate_limited` or `paused`.
    #[serde(default)]
    pub sync_state: Option<String>,
    #[serde(default)]
    pub sync_retry_at: Option<String>,
    /// Failed runs in a row, and since when.
    #[serde(default)]
    pub sync_failures: i64,
    #[serde(default)]
    pub sync_failing_since: Option<String>,
    #[serde(default)]
    pub paused_reason: Option<String>,
    /// Read for views only: the newest run, and the first and last
    /// instants of data held.
    #[serde(default, deserialize_with = "json_column")]
    pub last_run: Option<Value>,
    #[serde(default)]
    pub coverage_from: Option<String>,
    #[serde(default)]
    pub coverage_to: Option<String>,
}

/// One stream of a datasource (a meter, a system, a tenant, a report), with
/// the data held for it and why its last page failed, if it did.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct StreamView {
    pub key: String,
    pub kind: Option<String>,
    pub first_period: Option<String>,
    pub last_period: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: String,
}

/// The data a datasource holds, from its first interval to its last.
#[derive(Debug, Serialize, PartialEq)]
pub struct Coverage {
    pub from: String,
    pub to: String,
}

/// What the API returns for a datasource: everything but the secret.
#[derive(Debug, Serialize)]
pub struct View {
    pub id: String,
    pub integration_id: String,
    pub integration_name: Option<String>,
    pub display_name: String,
    pub auth_type: String,
    pub status: String,
    pub last_error: Option<String>,
    pub enabled: bool,
    pub sync_frequency_minutes: u32,
    pub settings: Value,
    /// What the provider reported about the account (tenants, meter
    /// points, systems); `null` until the first successful check.
    pub provider: Value,
    pub credential_hint: Option<String>,
    pub token_expires_at: Option<String>,
    pub last_synced_at: Option<String>,
    pub next_sync_at: Option<String>,
    /// `idle`, `queued`, `running`, `rate_limited` (until `sync_retry_at`)
    /// or `paused` (with `paused_reason`, until re-enabled).
    pub sync_state: String,
    pub sync_retry_at: Option<String>,
    pub paused_reason: Option<String>,
    /// The newest run (any trigger): id, trigger, status, times, counts, error.
    pub last_run: Option<Value>,
    /// `null` until data is held.
    pub coverage: Option<Coverage>,
    /// In `GET /datasources/{id}` only: each stream's coverage and last error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<StreamView>>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Record> for View {
    fn from(r: Record) -> Self {
        View {
            integration_name: catalog::catalog()
                .get(&r.integration_id)
                .map(|e| e.integration.name.clone()),
            settings: serde_json::from_str(&r.settings).unwrap_or(Value::Null),
            provider: r
                .provider_info
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null),
            enabled: r.enabled != 0,
            id: r.id,
            integration_id: r.integration_id,
            display_name: r.display_name,
            auth_type: r.auth_type,
            // Disabled is the user's switch, shown over the connection's health.
            status: if r.enabled == 0 {
                Status::Disabled.as_str().to_owned()
            } else {
                r.status
            },
            last_error: r.last_error,
            sync_frequency_minutes: r.sync_frequency_minutes,
            credential_hint: r.credential_hint,
            token_expires_at: r.token_expires_at,
            last_synced_at: r.last_synced_at,
            next_sync_at: r.next_sync_at,
            sync_state: r.sync_state.unwrap_or_else(|| "idle".into()),
            sync_retry_at: r.sync_retry_at,
            paused_reason: r.paused_reason,
            last_run: r.last_run,
            coverage: r
                .coverage_from
                .zip(r.coverage_to)
                .map(|(from, to)| Coverage { from, to }),
            streams: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// ISO-8601 UTC with seconds, as stored in D1 (sorts as text).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reads a stored [`timestamp`] back (any RFC 3339 time, as UTC).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `prefix_` + 20 random characters from a 32-letter alphabet (100 bits).
pub fn new_id(prefix: &str, random: [u8; 20]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let tail: String = random
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    format!("{prefix}_{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_show_at_most_the_last_four_characters() {
        let i = &catalog::catalog()
            .get("octopus-energy")
            .unwrap()
            .integration;
        let f: BTreeMap<_, _> =
            [("api_key".to_string(), "sk_live_abcdefgh1234".to_string())].into();
        assert_eq!(credential_hint(i, &f).unwrap(), "API key ••••1234");
        let short: BTreeMap<_, _> = [("api_key".to_string(), "short".to_string())].into();
        assert_eq!(credential_hint(i, &short).unwrap(), "API key ••••");
    }

    #[test]
    fn ids_are_prefixed_and_url_safe() {
        let id = new_id("ds", [255; 20]);
        assert_eq!(id.len(), 23);
        assert!(id.starts_with("ds_") && id[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
