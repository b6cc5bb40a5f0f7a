//! Operational endpoints: `/healthz`, `/readyz`, `/metrics` (Prometheus text format) and
//! `/sessions` (JSON list of live sessions; only on the `--metrics-addr` listener, since it
//! reveals session ids).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::index::{SessionEntry, SessionIndex};
use crate::metrics::ProxyMetrics;
use crate::session_id::SessionId;

/// What the operational endpoints read.
#[derive(Clone)]
pub struct OpsState {
    /// Live sessions.
    pub index: Arc<SessionIndex>,
    /// The registry.
    pub metrics: Arc<ProxyMetrics>,
    /// Set when shutdown starts: readiness turns 503.
    pub draining: Arc<AtomicBool>,
    /// `--max-sessions`: readiness turns 503 when reached.
    pub max_sessions: usize,
}

/// Which endpoints a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpsExposure {
    /// Health and readiness only (the main listener when `--metrics-addr` is set).
    HealthOnly,
    /// Health, readiness and metrics (the main listener by default).
    WithMetrics,
    /// Everything, `/sessions` included (the `--metrics-addr` listener).
    Everything,
}

/// The operational routes.
pub fn routes(state: OpsState, exposure: OpsExposure) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if exposure != OpsExposure::HealthOnly {
        router = router.route("/metrics", get(metrics));
    }
    if exposure == OpsExposure::Everything {
        router = router.route("/sessions", get(sessions));
    }
    router.with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<OpsState>) -> Response {
    if state.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else if state.index.len() >= state.max_sessions {
        (StatusCode::SERVICE_UNAVAILABLE, "at --max-sessions\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    (
        // prometheus-client writes the OpenMetrics text format (`# EOF`, `# UNIT`, counter
        // families named without `_total`); Prometheus negotiates it by this header.
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Client sessions under `sessions`; the modern leg's pooled children under `pooled`, with the
/// era their child speaks.
async fn sessions(State(state): State<OpsState>) -> Response {
    let (clients, pooled): (Vec<_>, Vec<_>) = state
        .index
        .entries()
        .into_iter()
        .partition(|(_, entry)| !entry.kind.is_pooled());
    let describe = |(id, entry): (SessionId, SessionEntry)| {
        let stats = &entry.stats;
        let pid = stats.child_pid();
        let mut described = json!({
            "id": id.as_str(),
            "state": stats.phase().label(),
            "child_pid": (pid != 0).then_some(pid),
            "generation": stats.generation(),
            "restarts": stats.restarts(),
            "age_seconds": stats.age().as_secs_f64(),
            "idle_seconds": stats.idle().as_secs_f64(),
            "inflight_requests": stats.inflight(),
            "open_streams": stats.inflight() + usize::from(stats.standalone_open()),
            "buffered_bytes": {
                "to_server": entry.budgets.to_child.held(),
                "to_client": entry.budgets.to_client.held(),
            },
        });
        if entry.kind.is_pooled() {
            described["kind"] = json!(entry.kind.label());
            described["child_era"] = json!(entry.kind.child_era());
        }
        described
    };
    let sorted = |entries: Vec<(SessionId, SessionEntry)>| {
        let mut list: Vec<_> = entries.into_iter().map(describe).collect();
        list.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        list
    };
    let body = json!({ "sessions": sorted(clients), "pooled": sorted(pooled) }).to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
