//! What a handler gets: the request, its route parameters, its (already
//! size- and type-checked) body, and the session when the route needs one.

use std::cell::RefCell;

use carbon_core::auth::Session;
use carbon_core::body::{self, JSON_BODY_LIMIT};
use carbon_core::error::ApiError;
use carbon_core::routes::Params;
use serde::de::DeserializeOwned;
use worker::{Env, Request};

use crate::connections::Ctx;
use crate::storage::StatementCount;

pub struct Call<'a> {
    pub req: &'a Request,
    /// The request URL, parsed once by the pipeline (`None` if unparsable).
    pub url: Option<&'a worker::Url>,
    pub env: &'a Env,
    pub params: &'a Params,
    pub body: &'a [u8],
    pub session: Option<&'a Session>,
    pub request_id: &'a str,
    /// D1 statements this request sent, for its log line.
    pub statements: &'a StatementCount,
    /// An internal cause a handler answered without an error (e.g. in an
    /// HTML page), for the request's log line.
    pub failure: &'a RefCell<Option<String>>,
}

impl<'a> Call<'a> {
    pub fn user(&self) -> Result<&'a Session, ApiError> {
        self.session
            .ok_or_else(|| ApiError::internal("route needs a session"))
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        body::require_json(self.header("Content-Type").as_deref())?;
        body::parse_json(self.body, JSON_BODY_LIMIT)
    }

    pub fn note_failure(&self, cause: &str) {
        *self.failure.borrow_mut() = Some(cause.to_owned());
    }

    pub fn param(&self, name: &str) -> &'a str {
        self.params.get(name).unwrap_or_default()
    }

    /// The parsed request URL.
    pub fn url(&self) -> Result<&'a worker::Url, ApiError> {
        self.url
            .ok_or_else(|| ApiError::bad_request("unreadable URL"))
    }

    pub fn query_pairs(&self) -> Result<Vec<(String, String)>, ApiError> {
        Ok(self
            .url()?
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect())
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.req.headers().get(name).ok().flatten()
    }

    /// Services acting for the signed-in user.
    pub fn services(&self) -> Result<Ctx<'a>, ApiError> {
        let actor = format!("user:{}", self.user()?.user_id);
        Ctx::new(self.env, self.request_id, actor, self.statements)
    }

    /// Services acting for a sender no session names (a webhook, whose
    /// signature is checked by the handler).
    pub fn services_as(&self, actor: &str) -> Result<Ctx<'a>, ApiError> {
        Ctx::new(self.env, self.request_id, actor.to_owned(), self.statements)
    }
}
