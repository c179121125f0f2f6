//! The OAuth redirect target. Browsers get a small page that reports the
//! outcome to the frontend window that opened the popup; clients asking for
//! JSON get JSON (success) or a problem document (failure).

use carbon_core::error::ApiError;
use carbon_core::oauth_page::{self, Outcome};

use super::call::Call;
use crate::config::env_string;
use carbon_core::datasources::{CompleteBody, View};

use crate::connections::callback::{callback as run_callback, CallbackParams};
use crate::connections::complete::{complete as run_complete, Completed};
use crate::connections::Ctx;
use crate::http::Reply;

/// Where the Worker is reachable, for redirect URIs: `PUBLIC_BASE_URL`, or
/// the origin this request came to.
pub fn public_base(call: &Call<'_>) -> Result<String, ApiError> {
    if let Some(base) = env_string(call.env, "PUBLIC_BASE_URL") {
        return Ok(base.trim_end_matches('/').to_owned());
    }
    Ok(call.url()?.origin().ascii_serialization())
}

/// The frontend window's origin: `FRONTEND_ORIGIN`, else the first of
/// `ALLOWED_ORIGINS`. Never `*`.
fn frontend_origin(call: &Call<'_>) -> Result<String, ApiError> {
    env_string(call.env, "FRONTEND_ORIGIN")
        .or_else(|| {
            env_string(call.env, "ALLOWED_ORIGINS")
                .and_then(|v| v.split(',').next().map(|o| o.trim().to_owned()))
        })
        .filter(|o| !o.is_empty() && o != "*")
        .ok_or_else(|| {
            ApiError::internal("configuration: FRONTEND_ORIGIN (or ALLOWED_ORIGINS) is not set")
        })
}

/// GET /api/v1/oauth/{integration}/callback
pub async fn callback(call: &Call<'_>) -> Result<Reply, ApiError> {
    let mut params = CallbackParams::default();
    for (k, v) in call.query_pairs()? {
        match k.as_str() {
            "state" => params.state = Some(v),
            "code" => params.code = Some(v),
            "error" => params.error = Some(v),
            "error_description" => params.error_description = Some(v),
            _ => {}
        }
    }
    let origin = frontend_origin(call)?;
    let ctx = Ctx::new(
        call.env,
        call.request_id,
        "provider:oauth-callback".into(),
        call.statements,
    )?;
    let result = run_callback(&ctx, call.param("integration"), params).await;
    let wants_json = call
        .header("Accept")
        .is_some_and(|a| a.contains("json") && !a.contains("text/html"));
    if wants_json {
        return result.and_then(|outcome| Reply::json(200, &outcome));
    }
    let (status, outcome) = match result {
        Ok(outcome) => (200, outcome),
        Err(err) => {
            // The page shows what a problem document would say: internal
            // causes stay opaque, and go to the request's log line.
            let message = match &err {
                ApiError::Internal { cause } => {
                    call.note_failure(cause);
                    "internal error; quote the request id when reporting it".to_owned()
                }
                other => other.to_problem("", "").detail,
            };
            (err.status(), Outcome::error(message))
        }
    };
    Ok(page(status, &outcome, &origin))
}

/// POST /api/v1/datasources/oauth/complete
pub async fn complete(call: &Call<'_>) -> Result<Reply, ApiError> {
    let completion = call.json::<CompleteBody>()?.validate()?;
    let user = &call.user()?.user_id;
    crate::limits::take(call.env, crate::limits::PROVIDER_CALLS, user).await?;
    let ctx = call.services()?;
    match run_complete(&ctx, user, completion).await? {
        Completed::Cancelled => Ok(Reply::raw_json(200, r#"{"status":"cancelled"}"#)),
        Completed::Connected { view, created } => {
            #[derive(serde::Serialize)]
            struct Connected<'a> {
                status: &'static str,
                datasource: &'a View,
            }
            let mut reply = Reply::json(
                if created { 201 } else { 200 },
                &Connected {
                    status: "connected",
                    datasource: &view,
                },
            )?;
            reply
                .headers
                .push(("Location", format!("/api/v1/datasources/{}", view.id)));
            Ok(reply)
        }
    }
}

fn page(status: u16, outcome: &Outcome, origin: &str) -> Reply {
    let nonce = carbon_core::oauth::random_token(crate::random::bytes());
    Reply {
        status,
        body: oauth_page::render(outcome, origin, &nonce).into_bytes(),
        content_type: "text/html; charset=utf-8",
        headers: vec![
            (
                "Content-Security-Policy",
                oauth_page::content_security_policy(&nonce),
            ),
            // The URL carried the authorization code: never send it onwards.
            ("Referrer-Policy", "no-referrer".to_owned()),
        ],
    }
}
