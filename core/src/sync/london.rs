//! UK civil time (Europe/London) without a time-zone database: GMT in
//! winter, BST (UTC+1) from 01:00 UTC on the last Sunday of March to 01:00
//! UTC on the last Sunday of October (the rule in force since 1996, The
//! Summer Time Order 2002). Octopus documents that datetimes without an
//! offset are Europe/London; this turns them into UTC, across both changes.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let next_month = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("valid date");
    let last = next_month - Duration::days(1);
    let back = last.weekday().num_days_from_sunday();
    last - Duration::days(back.into())
}

/// The UTC instants summer time starts and ends in `year`.
pub fn bst_bounds(year: i32) -> (DateTime<Utc>, DateTime<Utc>) {
    let at_one = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(1, 0, 0).expect("01:00"));
    (at_one(last_sunday(year, 3)), at_one(last_sunday(year, 10)))
}

/// The UK's offset from UTC at a UTC instant, in hours (0 or 1).
pub fn offset_hours(at: DateTime<Utc>) -> i64 {
    let (start, end) = bst_bounds(at.year());
    i64::from(at >= start && at < end)
}

/// A naive UK wall-clock time as UTC. In the autumn hour that occurs twice
/// the first (BST) occurrence is taken; a spring time that never occurs
/// (01:00-02:00 on the change day) is read as GMT, i.e. moved forward.
pub fn to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let as_bst = Utc.from_utc_datetime(&(local - Duration::hours(1)));
    if offset_hours(as_bst) == 1 {
        return as_bst;
    }
    Utc.from_utc_datetime(&local)
}

/// Midnight UK time on `date`, as UTC.
pub fn midnight(date: NaiveDate) -> DateTime<Utc> {
    to_utc(date.and_hms_opt(0, 0, 0).expect("midnight"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Weekday;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn summer_time_bounds_match_the_published_dates() {
        // 2024: 31 March and 27 October; 2025: 30 March and 26 October.
        assert_eq!(
            bst_bounds(2024),
            (utc("2024-03-31T01:00:00Z"), utc("2024-10-27T01:00:00Z"))
        );
        assert_eq!(
            bst_bounds(2025),
            (utc("2025-03-30T01:00:00Z"), utc("2025-10-26T01:00:00Z"))
        );
        assert_eq!(bst_bounds(2026).0.date_naive().weekday(), Weekday::Sun);
    }

    #[test]
    fn naive_london_times_become_utc_across_both_changes() {
        assert_eq!(
            to_utc(naive("2024-01-15T12:00:00")),
            utc("2024-01-15T12:00:00Z")
        );
        assert_eq!(
            to_utc(naive("2024-07-01T00:00:00")),
            utc("2024-06-30T23:00:00Z")
        );
        // Spring: 00:30 GMT, then 02:00 BST follows 00:59 GMT.
        assert_eq!(
            to_utc(naive("2024-03-31T00:30:00")),
            utc("2024-03-31T00:30:00Z")
        );
        assert_eq!(
            to_utc(naive("2024-03-31T02:00:00")),
            utc("2024-03-31T01:00:00Z")
        );
        // Autumn: 01:30 happens twice; the first is BST.
        assert_eq!(
            to_utc(naive("2024-10-27T01:30:00")),
            utc("2024-10-27T00:30:00Z")
        );
        assert_eq!(
            to_utc(naive("2024-10-27T02:00:00")),
            utc("2024-10-27T02:00:00Z")
        );
    }

    #[test]
    fn uk_days_are_23_and_25_hours_long_on_change_days() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            midnight(day(2024, 4, 1)) - midnight(day(2024, 3, 31)),
            Duration::hours(23)
        );
        assert_eq!(
            midnight(day(2024, 10, 28)) - midnight(day(2024, 10, 27)),
            Duration::hours(25)
        );
    }
}
