//! One call budget per provider app, shared by every customer: providers
//! limit the platform's client id (Enphase's plan: so many calls a minute
//! for all of the app's users), not each connection. A slice asks for the
//! calls it may make before making any; what would pass a limit is not
//! granted, and the slice is requeued for when the window opens. A 429 from
//! the provider closes the budget until the time it gives.
//!
//! The state lives in one Durable Object per provider app (one writer,
//! strongly consistent: no two consumers can both take the last call); this
//! is its logic, sans-I/O.

use serde::{Deserialize, Serialize};

/// At most `calls` in every window of `seconds` (fixed windows aligned to
/// the epoch, as providers count them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub calls: u32,
    pub seconds: u32,
}

impl Limit {
    /// What one slice asks for at a time: half the tightest window (at
    /// least one call, at most `most`), so that consumers running at once
    /// share a window instead of the first taking it all (what a slice
    /// does not send goes back when it ends).
    pub fn share(limits: &[Limit], most: u32) -> u32 {
        limits
            .iter()
            .map(|l| l.calls.div_ceil(2))
            .min()
            .unwrap_or(most)
            .clamp(1, most.max(1))
    }

    /// How long before a window's end a call is no longer sent in it: a
    /// tenth of the tightest window, at most a second, enough for a call to
    /// reach the provider before its window turns.
    pub fn send_margin_ms(limits: &[Limit]) -> i64 {
        let tightest = limits
            .iter()
            .map(|l| i64::from(l.seconds))
            .min()
            .unwrap_or(60);
        (tightest * 100).min(1000)
    }

    /// `"10/60,1000/2592000"`: every limit that parses.
    pub fn parse_list(s: &str) -> Vec<Limit> {
        s.split(',').filter_map(Limit::parse).collect()
    }

    /// `"10/60"`: ten calls a minute.
    pub fn parse(s: &str) -> Option<Limit> {
        let (calls, seconds) = s.trim().split_once('/')?;
        let limit = Limit {
            calls: calls.trim().parse().ok()?,
            seconds: seconds.trim().parse().ok()?,
        };
        (limit.seconds > 0).then_some(limit)
    }
}

/// What a provider app has spent, per window, and until when it is closed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// (window length in seconds, window start in unix seconds, calls spent)
    pub windows: Vec<(u32, i64, u32)>,
    /// Closed by the provider (a 429) until this unix second.
    pub closed_until: i64,
}

/// The answer to a request for calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub calls: u32,
    /// When nothing is granted: seconds until a call can be.
    pub retry_after: Option<u32>,
    /// The instant the calls were counted at (give unsent ones back with it).
    #[serde(default)]
    pub at: i64,
    /// The calls count in windows that end at this unix second: sent later,
    /// they would land in the provider's next window, so they are not.
    #[serde(default)]
    pub until: i64,
}

impl Grant {
    /// When the granted calls' windows turn within the send margin of
    /// `now_ms`: how long until they have (ms). Sent now, the calls would
    /// reach the provider in its next window, where they were not counted.
    pub fn lapsing_in(&self, now_ms: i64, limits: &[Limit]) -> Option<i64> {
        if self.calls == 0 || self.until <= 0 {
            return None;
        }
        let left = self.until.saturating_mul(1000).saturating_sub(now_ms);
        (left <= Limit::send_margin_ms(limits)).then_some(left.max(0))
    }
}

impl Budget {
    /// The window of `limit` that `now` falls in. Windows only move
    /// forward: a request that arrives late with an older `now` counts
    /// against the newer window, never resets it.
    fn spent(&mut self, limit: &Limit, now: i64) -> &mut (u32, i64, u32) {
        let start = now - now.rem_euclid(i64::from(limit.seconds));
        let i = match self.windows.iter().position(|w| w.0 == limit.seconds) {
            Some(i) => i,
            None => {
                self.windows.push((limit.seconds, start, 0));
                self.windows.len() - 1
            }
        };
        let w = &mut self.windows[i];
        if w.1 < start {
            *w = (limit.seconds, start, 0);
        }
        w
    }

    /// Grants up to `want` calls within every limit, and spends them.
    pub fn take(&mut self, want: u32, limits: &[Limit], now: i64) -> Grant {
        let refused = |wait: i64| Grant {
            calls: 0,
            retry_after: Some(wait.clamp(1, i64::from(u32::MAX)) as u32),
            at: now,
            until: now,
        };
        if now < self.closed_until {
            return refused(self.closed_until - now);
        }
        let mut calls = want;
        let mut wait = 0i64;
        let mut until = i64::MAX;
        for limit in limits {
            let (seconds, start, spent) = *self.spent(limit, now);
            let end = start + i64::from(seconds);
            let left = limit.calls.saturating_sub(spent);
            if left == 0 {
                wait = wait.max(end - now);
            }
            calls = calls.min(left);
            until = until.min(end);
        }
        if calls == 0 {
            return refused(wait);
        }
        for limit in limits {
            self.spent(limit, now).2 += calls;
        }
        Grant {
            calls,
            retry_after: None,
            at: now,
            until,
        }
    }

    /// Returns calls granted at `taken_at` but never sent, to the windows
    /// they were taken from: a window that has since closed keeps its count
    /// (it is over either way), and a window never goes below zero.
    pub fn give_back(&mut self, calls: u32, limits: &[Limit], taken_at: i64) {
        for limit in limits {
            let start = taken_at - taken_at.rem_euclid(i64::from(limit.seconds));
            if let Some(w) = self
                .windows
                .iter_mut()
                .find(|w| w.0 == limit.seconds && w.1 == start)
            {
                w.2 = w.2.saturating_sub(calls);
            }
        }
    }

    /// The provider said no until `until` (unix seconds).
    pub fn close(&mut self, until: i64) {
        self.closed_until = self.closed_until.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Limit = Limit {
        calls: 10,
        seconds: 60,
    };
    const MONTH: Limit = Limit {
        calls: 25,
        seconds: 2_592_000,
    };

    #[test]
    fn grants_never_pass_any_limit_and_say_when_to_come_back() {
        let mut b = Budget::default();
        let t0: i64 = 1_800_000_000; // a minute boundary (divisible by 60)
        assert_eq!(b.take(6, &[MINUTE, MONTH], t0).calls, 6);
        assert_eq!(
            b.take(6, &[MINUTE, MONTH], t0 + 10).calls,
            4,
            "what is left of the minute"
        );
        let refused = b.take(1, &[MINUTE, MONTH], t0 + 20);
        assert_eq!((refused.calls, refused.retry_after), (0, Some(40)));
        assert_eq!(
            b.take(20, &[MINUTE, MONTH], t0 + 60).calls,
            10,
            "a new minute"
        );
        assert_eq!(
            b.take(20, &[MINUTE, MONTH], t0 + 120).calls,
            5,
            "the month has 5 left"
        );
        let none = b.take(1, &[MINUTE, MONTH], t0 + 180);
        assert_eq!(none.calls, 0);
        assert!(none.retry_after.unwrap() > 86_400);
    }

    #[test]
    fn a_provider_429_closes_the_budget_until_its_time() {
        let mut b = Budget::default();
        b.close(1_000_100);
        let refused = b.take(3, &[MINUTE], 1_000_000);
        assert_eq!((refused.calls, refused.retry_after), (0, Some(100)));
        assert_eq!(b.take(3, &[MINUTE], 1_000_100).calls, 3);
        assert_eq!(
            Limit::parse("4/5"),
            Some(Limit {
                calls: 4,
                seconds: 5
            })
        );
        assert_eq!(Limit::parse("4/0"), None);
    }

    #[test]
    fn unsent_calls_go_back_to_the_window_they_came_from() {
        let mut b = Budget::default();
        let t0: i64 = 1_800_000_000;
        assert_eq!(b.take(10, &[MINUTE, MONTH], t0).calls, 10);
        b.give_back(7, &[MINUTE, MONTH], t0);
        assert_eq!(
            b.take(10, &[MINUTE, MONTH], t0 + 5).calls,
            7,
            "seven returned"
        );
        // Taken in one minute, returned in the next: the new minute keeps
        // its count, the month (still the same window) gets them back.
        b.give_back(7, &[MINUTE, MONTH], t0 + 5);
        assert_eq!(b.take(1, &[MINUTE], t0 + 61).calls, 1);
        b.give_back(5, &[MINUTE, MONTH], t0 + 5);
        assert_eq!(
            b.take(20, &[MINUTE], t0 + 62).calls,
            9,
            "the new minute kept its one"
        );
        b.give_back(1000, &[MINUTE, MONTH], t0 + 62);
        assert!(
            b.windows.iter().all(|w| w.2 == 0),
            "never below zero: {:?}",
            b.windows
        );
        assert_eq!(Limit::share(&[MINUTE, MONTH], 20), 5);
        assert_eq!(Limit::share(&[MINUTE, MONTH], 4), 4);
        assert_eq!(
            Limit::share(
                &[Limit {
                    calls: 1,
                    seconds: 1
                }],
                20
            ),
            1
        );
        assert_eq!(Limit::share(&[], 20), 20);
    }

    #[test]
    fn a_late_request_never_resets_a_newer_window_and_grants_say_when_they_lapse() {
        let mut b = Budget::default();
        let t0: i64 = 1_800_000_000;
        let g = b.take(6, &[MINUTE, MONTH], t0 + 60);
        assert_eq!((g.calls, g.at, g.until), (6, t0 + 60, t0 + 120));
        // A consumer that read its clock in the previous minute arrives late:
        // it counts against the current minute, which keeps its six.
        assert_eq!(b.take(10, &[MINUTE], t0 + 59).calls, 4);
        assert_eq!(b.take(1, &[MINUTE], t0 + 61).calls, 0);
    }

    #[test]
    fn a_grant_in_its_windows_last_moment_is_lapsing() {
        let mut b = Budget::default();
        let t0: i64 = 1_800_000_000;
        let g = b.take(1, &[MINUTE, MONTH], t0 + 60);
        assert_eq!(g.until, t0 + 120);
        let ms = |s: i64| s * 1000;
        // A minute's margin is a second (a tenth, at most a second).
        assert_eq!(Limit::send_margin_ms(&[MINUTE, MONTH]), 1000);
        assert_eq!(
            Limit::send_margin_ms(&[Limit {
                calls: 5,
                seconds: 5
            }]),
            500
        );
        assert_eq!(g.lapsing_in(ms(t0 + 118), &[MINUTE, MONTH]), None);
        assert_eq!(g.lapsing_in(ms(t0 + 119) - 1, &[MINUTE, MONTH]), None);
        assert_eq!(
            g.lapsing_in(ms(t0 + 119) + 250, &[MINUTE, MONTH]),
            Some(750)
        );
        assert_eq!(g.lapsing_in(ms(t0 + 121), &[MINUTE, MONTH]), Some(0));
        // Nothing granted, or no window: nothing lapses.
        assert_eq!(
            b.take(100, &[MINUTE], t0 + 119)
                .lapsing_in(ms(t0 + 119), &[MINUTE]),
            Some(1000)
        );
        let none = Grant {
            calls: 0,
            retry_after: Some(1),
            at: t0,
            until: t0,
        };
        assert_eq!(none.lapsing_in(ms(t0), &[MINUTE]), None);
        let unlimited = Grant {
            calls: 1,
            retry_after: None,
            at: t0,
            until: i64::MAX,
        };
        assert_eq!(unlimited.lapsing_in(ms(t0), &[]), None);
    }

    #[test]
    fn a_thousand_random_requests_never_overspend_a_window() {
        let mut b = Budget::default();
        let mut per_window = std::collections::BTreeMap::new();
        let mut seed = 7u64;
        let mut t = 1_000_000i64;
        for _ in 0..1000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t += (seed >> 60) as i64; // 0-15 s apart
            let want = ((seed >> 40) % 8) as u32 + 1;
            let g = b.take(want, &[MINUTE], t);
            *per_window.entry(t - t.rem_euclid(60)).or_insert(0) += g.calls;
        }
        assert!(
            per_window.values().all(|&n| n <= MINUTE.calls),
            "{per_window:?}"
        );
        assert!(per_window.values().any(|&n| n == MINUTE.calls));
    }
}
