//! `SessionCollector`: gauges of actor state, read from the live sessions at scrape time
//! (nothing is pushed on a timer): sessions by state, requests in flight, mailbox depths.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::budget::GlobalBudgets;
use crate::index::SessionIndex;
use crate::protocol::SessionKind;
use crate::session_stats::SessionPhase;

/// Reads the session index on every scrape.
pub struct SessionCollector {
    index: Arc<SessionIndex>,
    budgets: GlobalBudgets,
}

impl std::fmt::Debug for SessionCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCollector")
            .field("sessions", &self.index.len())
            .finish()
    }
}

impl SessionCollector {
    /// A collector over `index`.
    pub fn new(index: Arc<SessionIndex>, budgets: GlobalBudgets) -> SessionCollector {
        SessionCollector { index, budgets }
    }
}

/// Sum and max of one number over sessions.
#[derive(Default)]
struct SumMax {
    sum: i64,
    max: i64,
}

impl SumMax {
    fn add(&mut self, value: usize) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        self.sum = self.sum.saturating_add(value);
        self.max = self.max.max(value);
    }
}

impl Collector for SessionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut by_phase = [0i64; 4];
        let mut inflight = 0i64;
        let mut session_mailbox = SumMax::default();
        let mut child_mailbox = SumMax::default();
        // The modern leg's pooled children, by child era (legacy, modern) and state.
        let mut pooled = [[0i64; 4]; 2];
        for (_, entry) in self.index.entries() {
            let phase = entry.stats.phase() as usize;
            match entry.kind {
                SessionKind::Client => by_phase[phase] += 1,
                SessionKind::Translated => pooled[0][phase] += 1,
                SessionKind::Passthrough => pooled[1][phase] += 1,
            }
            inflight += i64::try_from(entry.stats.inflight()).unwrap_or(0);
            session_mailbox.add(entry.inbox.depth());
            child_mailbox.add(entry.stats.child_queue_depth());
        }

        let mut family = encoder.encode_descriptor(
            "sessions",
            "Live sessions by state",
            None,
            MetricType::Gauge,
        )?;
        for phase in SessionPhase::ALL {
            let labels = [("state", phase.label())];
            ConstGauge::new(by_phase[phase as usize]).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "modern_pool_children",
            "Pooled children serving 2026-07-28 clients, by the era the child speaks (legacy: translated, modern: passthrough) and state",
            None,
            MetricType::Gauge,
        )?;
        for (era, counts) in ["legacy", "modern"].iter().zip(pooled) {
            for phase in SessionPhase::ALL {
                let labels = [("child_era", *era), ("state", phase.label())];
                ConstGauge::new(counts[phase as usize]).encode(family.encode_family(&labels)?)?;
            }
        }

        let metric = encoder.encode_descriptor(
            "inflight_requests",
            "Client requests waiting for the MCP server, over all sessions",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(inflight).encode(metric)?;

        let (to_server, to_client) = self.budgets.held();
        let mut family = encoder.encode_descriptor(
            "buffered_bytes",
            "Message bytes queued in the proxy, over all sessions, by direction (bounded by --max-buffer-bytes each)",
            None,
            MetricType::Gauge,
        )?;
        for (direction, bytes) in [
            ("client_to_child", to_server),
            ("child_to_client", to_client),
        ] {
            let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
            ConstGauge::new(bytes).encode(family.encode_family(&[("direction", direction)])?)?;
        }

        let mut family = encoder.encode_descriptor(
            "mailbox_depth",
            "Messages waiting in actor mailboxes (session: client messages and child frames; child: stdin writes), sum and max over sessions",
            None,
            MetricType::Gauge,
        )?;
        for (actor, numbers) in [("session", &session_mailbox), ("child", &child_mailbox)] {
            for (aggregate, value) in [("sum", numbers.sum), ("max", numbers.max)] {
                let labels = [("actor", actor), ("aggregate", aggregate)];
                ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
