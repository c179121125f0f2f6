//! One function per route: extract, make one call, map the result.

pub mod activity;
pub mod call;
pub mod datasources;
pub mod emissions;
pub mod factors;
pub mod health;
pub mod integrations;
pub mod me;
pub mod oauth;
pub mod openapi;
pub mod sync;
pub mod uploads;
pub mod webhooks;
