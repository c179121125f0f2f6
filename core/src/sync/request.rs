//! `POST /api/v1/datasources/{id}/sync` as sent, validated once.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::plan::RunMode;
use crate::error::{ApiError, FieldError};

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub mode: Option<RunMode>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub to: Option<DateTime<Utc>>,
}

/// A validated request.
#[derive(Debug, PartialEq, Eq)]
pub struct SyncRequest {
    pub mode: RunMode,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl SyncBody {
    pub fn validate(self, now: DateTime<Utc>) -> Result<SyncRequest, ApiError> {
        let mut errors = Vec::new();
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from >= to {
                errors.push(FieldError {
                    field: "to".into(),
                    message: "must be after from".into(),
                });
            }
        }
        if self.from.is_some_and(|f| f > now) {
            errors.push(FieldError {
                field: "from".into(),
                message: "must not be in the future".into(),
            });
        }
        if !errors.is_empty() {
            return Err(ApiError::Unprocessable { errors });
        }
        Ok(SyncRequest {
            mode: self.mode.unwrap_or_default(),
            from: self.from,
            to: self.to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap()
    }

    #[test]
    fn an_empty_body_is_an_incremental_sync() {
        let r = SyncBody::default().validate(now()).unwrap();
        assert_eq!(r.mode, RunMode::Incremental);
    }

    #[test]
    fn a_backwards_or_future_period_is_refused() {
        let later = now() + chrono::Duration::days(1);
        let body = SyncBody {
            mode: None,
            from: Some(later),
            to: Some(now()),
        };
        let err = body.validate(now()).unwrap_err();
        assert_eq!(err.status(), 422);
    }
}
