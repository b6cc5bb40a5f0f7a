//! The scenarios, one module per group, and what they share.

pub mod flood;
pub mod interactive;
pub mod payload;
pub mod sessions;
pub mod setup;
pub mod soak;
pub mod throughput;

/// A count from the environment (for shorter profiling runs), or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
