//! Building responses: JSON bodies, problem documents and common headers.

use carbon_core::error::{ApiError, PROBLEM_CONTENT_TYPE};
use carbon_core::etag;
use serde::Serialize;
use worker::{Headers, Response};

/// A handler's successful answer, before the pipeline adds common headers.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| ApiError::internal(format!("serialising response: {e}")))?;
        Ok(Reply {
            status,
            body,
            content_type: "application/json",
            headers: Vec::new(),
        })
    }

    pub fn raw(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Reply {
            status,
            body,
            content_type,
            headers: Vec::new(),
        }
    }

    pub fn raw_json(status: u16, body: &'static str) -> Self {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            content_type: "application/json",
            headers: Vec::new(),
        }
    }

    /// Adds `ETag` and `Cache-Control`, and turns the reply into a bodiless
    /// 304 when the client's `If-None-Match` already names this body.
    pub fn cacheable(self, cache_control: &str, if_none_match: Option<&str>) -> Self {
        let tag = etag::etag(&self.body);
        self.tagged(tag, cache_control, if_none_match)
    }

    /// [`Reply::cacheable`] with the body's ETag already known.
    pub fn tagged(mut self, tag: String, cache_control: &str, if_none_match: Option<&str>) -> Self {
        let fresh = if_none_match.is_some_and(|h| etag::if_none_match(h, &tag));
        self.headers.push(("ETag", tag));
        self.headers
            .push(("Cache-Control", cache_control.to_owned()));
        if fresh {
            self.status = 304;
            self.body.clear();
            self.content_type = "";
        }
        self
    }

    pub fn problem(err: &ApiError, instance: &str, request_id: &str) -> Self {
        let problem = err.to_problem(instance, request_id);
        Reply {
            status: err.status(),
            body: serde_json::to_vec(&problem).unwrap_or_default(),
            content_type: PROBLEM_CONTENT_TYPE,
            headers: err.headers(),
        }
    }

    pub fn empty(status: u16, headers: Vec<(&'static str, String)>) -> Self {
        Reply {
            status,
            body: Vec::new(),
            content_type: "",
            headers,
        }
    }

    /// Turns the reply into a Workers response. `head_only` drops the body
    /// (HEAD requests) but keeps its headers.
    pub fn into_response(self, extra: &[(&'static str, String)], head_only: bool) -> Response {
        let headers = Headers::new();
        if !self.content_type.is_empty() {
            let _ = headers.set("Content-Type", self.content_type);
        }
        // Responses may carry user data: never let a shared cache keep them
        // unless a handler says otherwise.
        let _ = headers.set("Cache-Control", "no-store");
        let _ = headers.set("X-Content-Type-Options", "nosniff");
        for (name, value) in self.headers.iter().chain(extra) {
            if name.eq_ignore_ascii_case("Vary") {
                let _ = headers.append(name, value);
            } else {
                let _ = headers.set(name, value);
            }
        }
        let body = if head_only { Vec::new() } else { self.body };
        let response = if body.is_empty() {
            Response::empty()
        } else {
            Response::from_bytes(body)
        };
        response
            .map(|r| r.with_status(self.status).with_headers(headers))
            .unwrap_or_else(|_| Response::error("internal error", 500).expect("static response"))
    }
}
