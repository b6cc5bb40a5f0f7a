//! Settings of the modern leg (MCP 2026-07-28 clients on the same endpoint): whether it is
//! served, how the child's era is found, and how its pool of shared children is sized.

use std::time::Duration;

/// `--modern`: whether and how 2026-07-28 requests are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModernMode {
    /// Never: modern requests get 400 `-32600`, so auto-negotiating clients fall back to a
    /// 2025 session.
    Off,
    /// Passthrough when the child speaks 2026-07-28; otherwise like `off`, because a legacy
    /// server was written for one client per process and sharing it is the operator's call.
    Auto,
    /// Like `auto`, and a legacy-only child is served to modern clients by translation over a
    /// pool of pre-initialized children that callers share.
    Translate,
}

/// `--child-era`: what the command's server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChildEraSetting {
    /// Probe a throwaway child with `server/discover` once at startup.
    Auto,
    /// Only the 2025 handshake revisions: no probe.
    Legacy,
    /// 2026-07-28 (a dual-era server): no probe.
    Modern,
}

/// Everything the modern leg needs to know.
#[derive(Debug, Clone)]
pub struct ModernConfig {
    pub mode: ModernMode,
    pub child_era: ChildEraSetting,
    /// Longest wait for the probe child's `server/discover` answer.
    pub probe_timeout: Duration,
    /// Children started and kept ready (per partition of translated children, the first
    /// partition only; passthrough children in total).
    pub pool_min: usize,
    /// Most children per partition (translated) or in total (passthrough).
    pub pool_max: usize,
    /// Longest a modern request waits for a pooled child before 503 with `Retry-After`.
    pub lease_wait: Duration,
    /// A header whose value partitions translated children, so different principals never
    /// share a child.
    pub partition_header: Option<String>,
    /// A pooled child is replaced after serving this many requests, if set.
    pub recycle_after: Option<u64>,
    /// A pooled child is replaced once this old, if set.
    pub max_age: Option<Duration>,
    /// A pooled child with no request for this long is stopped (beyond `pool_min` in the warm
    /// partition), if set.
    pub idle_timeout: Option<Duration>,
    /// How long a call parked on an `InputRequiredResult` waits for the client's retry.
    pub input_ttl: Duration,
    /// What a pooled child's `roots/list` outside an interactive request is answered with.
    pub roots: Vec<String>,
}
