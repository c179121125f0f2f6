//! `POST /api/v1/datasources/oauth/complete` as sent, validated once.

use serde::Deserialize;

use super::requests::Errors;
use crate::error::ApiError;
use crate::providers;

/// `POST /api/v1/datasources/oauth/complete`: what the callback page relayed
/// from the provider's redirect, sent by the signed-in user who started the
/// authorisation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    pub state: String,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub code: Option<String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub error: Option<String>,
    #[serde(default, deserialize_with = "crate::nonnull::optional")]
    pub error_description: Option<String>,
}

/// What the provider answered, validated.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// Exchange this code.
    Code { state: String, code: String },
    /// The user declined (`access_denied`).
    Cancelled { state: String },
    /// Any other OAuth error the provider redirected with.
    Refused { state: String, error: String },
}

/// Longest `state`, `code` or error text accepted (providers' codes are a
/// few hundred characters at most).
const MAX_OAUTH_PARAM: usize = 2048;

impl CompleteBody {
    pub fn validate(self) -> Result<Completion, ApiError> {
        let mut errors = Errors::default();
        let too_long = |v: &str| v.len() > MAX_OAUTH_PARAM;
        if self.state.trim().is_empty() || too_long(&self.state) {
            errors.add("state", "must be the state the callback relayed");
        }
        match (&self.code, &self.error) {
            (Some(c), None) if c.is_empty() || too_long(c) => {
                errors.add("code", "must be the code the callback relayed")
            }
            (Some(_), None) => {}
            (None, Some(e)) if e.is_empty() || too_long(e) => {
                errors.add("error", "must be the error the callback relayed")
            }
            (None, Some(_)) => {}
            _ => errors.add("code", "exactly one of code and error is required"),
        }
        if self.error_description.as_deref().is_some_and(too_long) {
            errors.add("error_description", "is too long");
        }
        let state = self.state;
        errors.finish(())?;
        Ok(match (self.code, self.error) {
            (Some(code), _) => Completion::Code { state, code },
            (None, Some(e)) if e == "access_denied" => Completion::Cancelled { state },
            (None, error) => {
                let error = error.unwrap_or_default();
                let error = match self.error_description {
                    Some(d) => format!("{error}: {d}"),
                    None => error,
                };
                Completion::Refused {
                    state,
                    error: providers::sanitize(&error),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: Option<&str>, error: Option<&str>) -> CompleteBody {
        CompleteBody {
            state: "st".into(),
            code: code.map(Into::into),
            error: error.map(Into::into),
            error_description: None,
        }
    }

    #[test]
    fn a_code_or_an_error_but_not_both_nor_neither() {
        assert!(body(Some("c"), None).validate().is_ok());
        assert_eq!(
            body(None, Some("access_denied")).validate().unwrap(),
            Completion::Cancelled { state: "st".into() }
        );
        assert_eq!(
            body(Some("c"), Some("x")).validate().unwrap_err().status(),
            422
        );
        assert_eq!(body(None, None).validate().unwrap_err().status(), 422);
    }

    #[test]
    fn a_provider_error_is_cleaned() {
        let got = body(None, Some("<b>server_error</b>")).validate().unwrap();
        assert_eq!(
            got,
            Completion::Refused {
                state: "st".into(),
                error: "server_error".into()
            }
        );
    }
}
