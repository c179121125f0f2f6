//! Inbound webhooks: signature schemes verified over raw bytes (sans-I/O),
//! before anything is parsed or stored.

pub mod standard;
pub mod supplier;
pub mod xero;
