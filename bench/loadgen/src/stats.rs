//! Latency samples and their summary.

use std::time::Duration;

#[derive(Default)]
pub struct Samples {
    nanos: Vec<u64>,
    errors: u64,
}

impl Samples {
    pub fn ok(&mut self, took: Duration) {
        self.nanos.push(took.as_nanos() as u64);
    }

    pub fn error(&mut self, counted: bool) {
        if counted {
            self.errors += 1;
        }
    }

    pub fn merge(&mut self, other: Samples) {
        self.nanos.extend(other.nanos);
        self.errors += other.errors;
    }

    fn percentile(sorted: &[u64], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6
    }

    /// `server_cpu_s`: the server's CPU seconds over the measured window.
    pub fn summary(
        mut self,
        duration: Duration,
        concurrency: usize,
        server_cpu_s: Option<f64>,
    ) -> String {
        self.nanos.sort_unstable();
        let n = self.nanos.len();
        let cpu_us = server_cpu_s.filter(|_| n > 0).map(|s| s * 1e6 / n as f64);
        serde_json::json!({
            "requests": n,
            "errors": self.errors,
            "concurrency": concurrency,
            "duration_s": duration.as_secs_f64(),
            "rps": n as f64 / duration.as_secs_f64(),
            "p50_ms": Self::percentile(&self.nanos, 50.0),
            "p99_ms": Self::percentile(&self.nanos, 99.0),
            "max_ms": self.nanos.last().map(|v| *v as f64 / 1e6).unwrap_or(0.0),
            "server_cpu_us_per_request": cpu_us,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).map(|ms| ms * 1_000_000).collect();
        assert_eq!(Samples::percentile(&sorted, 50.0), 50.0);
        assert_eq!(Samples::percentile(&sorted, 99.0), 99.0);
        assert_eq!(Samples::percentile(&[], 50.0), 0.0);
    }
}
