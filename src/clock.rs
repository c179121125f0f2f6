//! Wall-clock time. In Workers it advances only across I/O, which is what
//! token expiry, leases and backoff need. Its own module so that `app`,
//! `auth` and `connections` can all read it without importing each other.

use chrono::{DateTime, Utc};

pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64).unwrap_or_default()
}
