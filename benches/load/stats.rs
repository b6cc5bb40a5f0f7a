//! What a scenario reports: latency percentiles and the count of its errors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Error counter that prints the first few errors to stderr.
pub struct Errors {
    scenario: &'static str,
    count: AtomicU64,
}

impl Errors {
    pub fn new(scenario: &'static str) -> Errors {
        Errors {
            scenario,
            count: AtomicU64::new(0),
        }
    }

    pub fn record(&self, error: impl std::fmt::Display) {
        let seen = self.count.fetch_add(1, Ordering::AcqRel);
        if seen < 5 {
            eprintln!("{}: error: {error}", self.scenario);
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

/// Latency summary.
pub struct Stats {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    pub fn of(samples: &mut [Duration]) -> Stats {
        if samples.is_empty() {
            return Stats {
                p50_ms: f64::NAN,
                p99_ms: f64::NAN,
                mean_ms: f64::NAN,
                max_ms: f64::NAN,
            };
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| {
            let rank = (q * samples.len() as f64).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        let total: Duration = samples.iter().sum();
        Stats {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            mean_ms: ms(total) / samples.len() as f64,
            max_ms: ms(samples[samples.len() - 1]),
        }
    }
}
