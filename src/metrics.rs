//! `ProxyMetrics`: the Prometheus registry and every counter the proxy increments.
//!
//! Counters and histograms are created once with their fixed label values, and the hot path
//! holds direct handles (an atomic add, no label hashing). Gauges of actor state are not
//! stored here: `metrics/collector.rs` reads them from the live sessions at scrape time, and
//! `metrics/process.rs` reads the `process_*` family from /proc.

mod collector;
mod era;
mod labels;
mod process;

use std::borrow::Cow;
use std::sync::Arc;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::budget::GlobalBudgets;
use crate::frame::FrameKind;
use crate::index::SessionIndex;
use crate::protocol::CloseReason;
use crate::session_id::InstanceId;

pub use collector::SessionCollector;
pub use era::{EraMetrics, RequestEra};
use labels::{DIRECTIONS, KINDS, LIMITS, SPARE_REPLACED, kind_index};
pub use labels::{Direction, EXIT_CAUSES, FailReason, Limit, METHODS, SpareReplaced, method_label};

type Labels = Vec<(&'static str, &'static str)>;

/// The proxy's metrics: the registry and direct handles to every counter.
#[derive(Debug)]
pub struct ProxyMetrics {
    registry: Registry,
    pub sessions_opened: Counter,
    /// `sessions_closed_total{reason}`, indexed like [`CloseReason::ALL`].
    sessions_closed: [Counter; CloseReason::ALL.len()],
    /// `child_spawns_total{outcome}`: ok, failed.
    child_spawns: [Counter; 2],
    /// `child_exits_total{cause}`: exit_code, signal, unknown, stopped.
    child_exits: Family<Labels, Counter>,
    pub child_restarts: Counter,
    /// `requests_total{method}`, indexed like [`METHODS`].
    requests: Vec<Counter>,
    /// `request_duration_seconds{method}`, indexed like [`METHODS`].
    durations: Vec<Histogram>,
    /// `requests_failed_total{method,reason}`, by method then reason.
    failures: Vec<[Counter; 7]>,
    messages: [[Counter; 4]; 2],
    bytes: [Counter; 2],
    /// `sse_streams{kind}`: request, standalone.
    sse_streams: [Gauge; 2],
    /// `limit_hits_total{limit}`, indexed like [`Limit`].
    limit_hits: [Counter; LIMITS.len()],
    /// `misrouted_requests_total`: requests for another instance's session.
    misrouted_requests: Counter,
    /// `spare_children`: pre-spawned children ready for a session (`--prespawn`).
    spare_children: Gauge,
    /// `spare_children_replaced_total{reason}`, indexed like [`SpareReplaced`].
    spares_replaced: [Counter; SPARE_REPLACED.len()],
    /// Requests by protocol era, era probes, modern leases.
    pub era: EraMetrics,
}

/// The label `--instance-id` puts on every `hyper_mcp_proxy_*` sample. Not `instance`:
/// Prometheus sets that one to the scraped address (and would rename ours).
pub const INSTANCE_LABEL: &str = "instance_id";

impl ProxyMetrics {
    /// Builds the registry of an unnamed instance.
    #[cfg(test)]
    pub fn new(index: Arc<SessionIndex>, budgets: GlobalBudgets) -> ProxyMetrics {
        ProxyMetrics::for_instance(index, budgets, None)
    }

    /// Builds the registry; `index` feeds the scrape-time session gauges. A named instance
    /// (`--instance-id`) labels every `hyper_mcp_proxy_*` sample with [`INSTANCE_LABEL`].
    pub fn for_instance(
        index: Arc<SessionIndex>,
        budgets: GlobalBudgets,
        instance: Option<&InstanceId>,
    ) -> ProxyMetrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(process::ProcessCollector));
        let ours = registry.sub_registry_with_prefix("hyper_mcp_proxy");
        let ours = match instance {
            Some(name) => ours.sub_registry_with_label((
                Cow::Borrowed(INSTANCE_LABEL),
                Cow::Owned(name.as_str().to_owned()),
            )),
            None => ours,
        };
        ours.register_collector(Box::new(SessionCollector::new(index, budgets)));

        let sessions_opened = Counter::default();
        ours.register(
            "sessions_opened",
            "Sessions opened (initialize forwarded to a new child)",
            sessions_opened.clone(),
        );
        let sessions_closed = Family::<Labels, Counter>::default();
        ours.register(
            "sessions_closed",
            "Sessions ended, by reason",
            sessions_closed.clone(),
        );
        let spawns = Family::<Labels, Counter>::default();
        ours.register(
            "child_spawns",
            "Child processes spawned, by outcome",
            spawns.clone(),
        );
        let child_spawns = ["ok", "failed"]
            .map(|outcome| spawns.get_or_create(&vec![("outcome", outcome)]).clone());
        let sessions_closed = CloseReason::ALL.map(|reason| {
            sessions_closed
                .get_or_create(&vec![("reason", reason.label())])
                .clone()
        });
        let child_exits = Family::<Labels, Counter>::default();
        for cause in EXIT_CAUSES {
            let _ = child_exits.get_or_create(&vec![("cause", cause)]);
        }
        ours.register(
            "child_exits",
            "Child processes that ended: exit_code or signal (crashes), stopped (by the proxy)",
            child_exits.clone(),
        );
        let child_restarts = Counter::default();
        ours.register(
            "child_restarts",
            "Child processes restarted after a crash",
            child_restarts.clone(),
        );

        let requests_family = Family::<Labels, Counter>::default();
        ours.register(
            "requests",
            "Client requests forwarded, by MCP method (custom methods count as other)",
            requests_family.clone(),
        );
        let durations_family = Family::<Labels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        ours.register_with_unit(
            "request_duration",
            "Time from forwarding a request to its answer, by MCP method",
            Unit::Seconds,
            durations_family.clone(),
        );
        let failures_family = Family::<Labels, Counter>::default();
        ours.register(
            "requests_failed",
            "Client requests that ended in an error, by MCP method and reason",
            failures_family.clone(),
        );
        let requests = METHODS
            .iter()
            .map(|method| {
                requests_family
                    .get_or_create(&vec![("method", *method)])
                    .clone()
            })
            .collect();
        let durations = METHODS
            .iter()
            .map(|method| {
                durations_family
                    .get_or_create(&vec![("method", *method)])
                    .clone()
            })
            .collect();
        let failures = METHODS
            .iter()
            .map(|method| {
                FailReason::ALL.map(|reason| {
                    failures_family
                        .get_or_create(&vec![("method", *method), ("reason", reason.label())])
                        .clone()
                })
            })
            .collect();

        let messages_family = Family::<Labels, Counter>::default();
        ours.register(
            "messages",
            "JSON-RPC messages passed, by direction and kind",
            messages_family.clone(),
        );
        let messages = DIRECTIONS.map(|direction| {
            KINDS.map(|kind| {
                messages_family
                    .get_or_create(&vec![("direction", direction), ("kind", kind)])
                    .clone()
            })
        });
        let bytes_family = Family::<Labels, Counter>::default();
        ours.register(
            "bytes",
            "Bytes of JSON-RPC messages passed, by direction",
            bytes_family.clone(),
        );
        let bytes = DIRECTIONS.map(|direction| {
            bytes_family
                .get_or_create(&vec![("direction", direction)])
                .clone()
        });
        let streams_family = Family::<Labels, Gauge>::default();
        ours.register(
            "sse_streams",
            "Open SSE response streams, by kind",
            streams_family.clone(),
        );
        let sse_streams = ["request", "standalone"]
            .map(|kind| streams_family.get_or_create(&vec![("kind", kind)]).clone());

        let limits_family = Family::<Labels, Counter>::default();
        ours.register(
            "limit_hits",
            "Work refused or dropped because a limit was reached, by limit",
            limits_family.clone(),
        );
        let limit_hits =
            LIMITS.map(|limit| limits_family.get_or_create(&vec![("limit", limit)]).clone());

        let misrouted_requests = Counter::default();
        ours.register(
            "misrouted_requests",
            "Requests for another instance (--instance-id): a session id of another instance (answered 404) or a requestState it issued (answered 400)",
            misrouted_requests.clone(),
        );

        let spare_children = Gauge::default();
        ours.register(
            "spare_children",
            "Pre-spawned children (--prespawn) started and waiting for a session",
            spare_children.clone(),
        );
        let replaced_family = Family::<Labels, Counter>::default();
        ours.register(
            "spare_children_replaced",
            "Spare children replaced while waiting: exited (by themselves or killed) or expired (older than --prespawn-max-age)",
            replaced_family.clone(),
        );
        let spares_replaced = SPARE_REPLACED.map(|reason| {
            replaced_family
                .get_or_create(&vec![("reason", reason)])
                .clone()
        });

        let era = EraMetrics::register(ours);
        ProxyMetrics {
            era,
            spare_children,
            spares_replaced,
            limit_hits,
            misrouted_requests,
            registry,
            sessions_opened,
            sessions_closed,
            child_spawns,
            child_exits,
            child_restarts,
            requests,
            durations,
            failures,
            messages,
            bytes,
            sse_streams,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }

    /// A session ended for `reason`.
    pub fn session_closed(&self, reason: CloseReason) {
        if let Some(index) = CloseReason::ALL.iter().position(|r| *r == reason) {
            self.sessions_closed[index].inc();
        }
    }

    /// A child spawn succeeded or failed.
    pub fn child_spawned(&self, ok: bool) {
        self.child_spawns[usize::from(!ok)].inc();
    }

    /// A child ended: `exit_code`, `signal`, `unknown` or `stopped`.
    pub fn child_exited(&self, cause: &'static str) {
        self.child_exits
            .get_or_create(&vec![("cause", cause)])
            .inc();
    }

    /// A request with method label `method` was forwarded.
    pub fn request_started(&self, method: usize) {
        self.requests[method].inc();
    }

    /// A request was answered after `seconds`.
    pub fn request_finished(&self, method: usize, seconds: f64) {
        self.durations[method].observe(seconds);
    }

    /// A request ended in an error.
    pub fn request_failed(&self, method: usize, reason: FailReason) {
        let index = FailReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        self.failures[method][index].inc();
    }

    /// A message of `len` bytes passed in `direction`.
    pub fn message(&self, direction: Direction, kind: FrameKind, len: usize) {
        self.messages[direction as usize][kind_index(kind)].inc();
        self.bytes[direction as usize].inc_by(len as u64);
    }

    /// A limit refused or dropped something.
    pub fn limit_hit(&self, limit: Limit) {
        self.limit_hits[limit as usize].inc();
    }

    /// A request named another instance's session.
    pub fn misrouted(&self) {
        self.misrouted_requests.inc();
    }

    /// The gauge of spare children ready for a session (the pool keeps it current).
    pub fn spare_children_gauge(&self) -> Gauge {
        self.spare_children.clone()
    }

    /// A waiting spare child was replaced.
    pub fn spare_replaced(&self, reason: SpareReplaced) {
        self.spares_replaced[reason as usize].inc();
    }

    /// The gauge of open SSE streams of a kind (`standalone` or not).
    pub fn sse_stream_gauge(&self, standalone: bool) -> Gauge {
        self.sse_streams[usize::from(standalone)].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_methods_are_labelled_other() {
        assert_eq!(METHODS[method_label(Some("tools/call"))], "tools/call");
        assert_eq!(METHODS[method_label(Some("demo/echo"))], "other");
        assert_eq!(METHODS[method_label(None)], "other");
    }

    #[test]
    fn renders_prefixed_families_with_exact_values() {
        let metrics =
            ProxyMetrics::new(Arc::new(SessionIndex::default()), GlobalBudgets::new(1024));
        metrics.request_started(method_label(Some("tools/call")));
        metrics.request_started(method_label(Some("x/custom")));
        metrics.message(Direction::ClientToChild, FrameKind::Request, 42);
        metrics.session_closed(CloseReason::Deleted);
        let text = metrics.render();
        assert!(
            text.contains("hyper_mcp_proxy_requests_total{method=\"tools/call\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("hyper_mcp_proxy_requests_total{method=\"other\"} 1\n"));
        assert!(text.contains("hyper_mcp_proxy_bytes_total{direction=\"client_to_child\"} 42\n"));
        assert!(text.contains("hyper_mcp_proxy_sessions_closed_total{reason=\"deleted\"} 1\n"));
        assert!(text.contains("hyper_mcp_proxy_sessions{state=\"ready\"} 0\n"));
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(text.contains("hyper_mcp_proxy_misrouted_requests_total 0\n"));
        assert!(text.contains("hyper_mcp_proxy_spare_children 0\n"));
        for reason in ["exited", "expired"] {
            let line =
                format!("hyper_mcp_proxy_spare_children_replaced_total{{reason=\"{reason}\"}} 0\n");
            assert!(text.contains(&line), "{text}");
        }
        assert!(!text.contains(INSTANCE_LABEL));
    }

    #[test]
    fn a_named_instance_labels_every_family_of_its_own() {
        let name = InstanceId::parse("proxy-2").unwrap();
        let metrics = ProxyMetrics::for_instance(
            Arc::new(SessionIndex::default()),
            GlobalBudgets::new(1024),
            Some(&name),
        );
        metrics.misrouted();
        metrics.request_started(method_label(Some("tools/call")));
        let text = metrics.render();
        assert!(
            text.contains("hyper_mcp_proxy_misrouted_requests_total{instance_id=\"proxy-2\"} 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "hyper_mcp_proxy_requests_total{instance_id=\"proxy-2\",method=\"tools/call\"} 1\n"
        ));
        assert!(
            text.contains("hyper_mcp_proxy_sessions{instance_id=\"proxy-2\",state=\"ready\"} 0\n")
        );
        for line in text
            .lines()
            .filter(|line| line.starts_with("hyper_mcp_proxy_"))
        {
            assert!(line.contains("instance_id=\"proxy-2\""), "{line}");
        }
    }
}
