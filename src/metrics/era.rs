//! `EraMetrics`: the counters of the two protocol eras on one endpoint: POSTs by era, the
//! verdicts of the child era probe, and the modern leg's leases of pooled children. The
//! pooled children themselves are gauged at scrape time by `metrics/collector.rs`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::Labels;

/// Counters of the dual-era endpoint.
#[derive(Debug)]
pub struct EraMetrics {
    /// `era_requests_total{era}`: legacy, modern.
    requests: [Counter; 2],
    /// `child_era_probes_total{era,reason}`.
    probes: Family<Labels, Counter>,
    /// `modern_leases_total{outcome}`: leased, refused.
    leases: [Counter; 2],
}

/// The era of a POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestEra {
    /// A 2025 session's request (or `initialize`).
    Legacy = 0,
    /// A 2026-07-28 request.
    Modern = 1,
}

impl EraMetrics {
    /// Registers the counters in `registry` (the `hyper_mcp_proxy` sub-registry).
    pub fn register(registry: &mut Registry) -> EraMetrics {
        let requests_family = Family::<Labels, Counter>::default();
        registry.register(
            "era_requests",
            "POST requests by protocol era: legacy (2025 sessions) or modern (2026-07-28)",
            requests_family.clone(),
        );
        let requests = ["legacy", "modern"]
            .map(|era| requests_family.get_or_create(&vec![("era", era)]).clone());
        let probes = Family::<Labels, Counter>::default();
        registry.register(
            "child_era_probes",
            "Probes of the MCP server's protocol era (server/discover to a throwaway child), by verdict and reason",
            probes.clone(),
        );
        let leases_family = Family::<Labels, Counter>::default();
        registry.register(
            "modern_leases",
            "Modern requests given a pooled child (leased) or refused for want of one (refused: busy or cannot start)",
            leases_family.clone(),
        );
        let leases = ["leased", "refused"].map(|outcome| {
            leases_family
                .get_or_create(&vec![("outcome", outcome)])
                .clone()
        });
        EraMetrics {
            requests,
            probes,
            leases,
        }
    }

    /// A POST of `era` arrived.
    pub fn request(&self, era: RequestEra) {
        self.requests[era as usize].inc();
    }

    /// The era probe ended with `era` for `reason`.
    pub fn probed(&self, era: &'static str, reason: &'static str) {
        self.probes
            .get_or_create(&vec![("era", era), ("reason", reason)])
            .inc();
    }

    /// A modern request got a pooled child (`true`) or was refused.
    pub fn lease(&self, leased: bool) {
        self.leases[usize::from(!leased)].inc();
    }
}
