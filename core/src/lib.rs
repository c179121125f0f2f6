//! Platform logic with no dependency on the Workers runtime.
//!
//! Everything here runs under plain `cargo test`; the Worker crate adapts it to
//! Workers APIs (routing, D1, fetch, SubtleCrypto). Keep `worker` out of here.

pub mod activity;
pub mod auth;
pub mod body;
pub mod budget;
pub mod catalog;
pub mod cors;
pub mod crypto;
pub mod datasources;
pub mod deployment;
pub mod emissions;
pub mod error;
pub mod etag;
pub mod intensity;
pub mod log;
pub mod nonnull;
pub mod oauth;
pub mod oauth_page;
pub mod openapi;
pub mod providers;
pub mod query;
pub mod routes;
pub mod sync;
pub mod uploads;
pub mod webhooks;
pub mod whole;
