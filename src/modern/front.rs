//! `ModernFront`: where a POST classified as 2026-07-28 goes. It validates the request (the
//! transport's ladder), decides how the command's era and `--modern` serve it, leases a pooled
//! child and hands the call to `modern/call.rs`.
//!
//! | child era (probe or `--child-era`) | `--modern auto` | `--modern translate` | `--modern off` |
//! |---|---|---|---|
//! | modern (2026-07-28 capable) | passthrough | passthrough | 400 `-32600` |
//! | legacy only | 400 `-32600` (clients fall back to a session) | translated pool | 400 `-32600` |
//!
//! Every refusal of a request the proxy cannot serve is a 4xx, never a 5xx: the official
//! clients fall back to a 2025 session on a 4xx to their `server/discover` probe, while the
//! TypeScript client gives up on a 5xx.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

mod forward;
mod retry;

use forward::Outgoing;
use retry::Retry;

use super::client_capabilities::{is_interactive, partition_key};
use super::discover::discover_result;
use super::ladder::{Admitted, Refusal, SERVED_VERSIONS, admit, refuse_unserved_version};
use super::listen::{ChangeFeed, ListenHub, ListenSettings};
use super::parked::ParkedCalls;
use super::pool::{ChildPool, LeaseError};
use super::probe::{ChildEra, probe_child_era};
use super::request_state::StateSealer;
use super::respond::{json as json_response, refuse, with_retry_after};
use crate::config::{ChildEraSetting, Config, ModernMode};
use crate::frame::{Frame, INTERNAL_ERROR, INVALID_REQUEST};
use crate::index::SessionIndex;
use crate::metrics::{ProxyMetrics, RequestEra};
use crate::protocol::{RouterMsg, SessionKind};

/// Margin over the probe's own deadline for a request waiting on the verdict.
const VERDICT_MARGIN: Duration = Duration::from_secs(5);

/// The modern leg's entry.
#[derive(Clone)]
pub struct ModernFront(Arc<FrontShared>);

struct FrontShared {
    config: Config,
    /// The command's era: configured, or probed when the first modern request needs it (a
    /// deployment without modern clients never spawns a probe child).
    era: OnceCell<ChildEra>,
    translated: ChildPool,
    passthrough: ChildPool,
    /// `subscriptions/listen` streams.
    listens: ListenHub,
    /// Ids (and progress tokens) the proxy gives modern requests on shared children.
    next_id: AtomicU64,
    /// Calls waiting for their client's answers, and the sealer of their states.
    parked: Arc<ParkedCalls>,
    /// `--roots`.
    roots: Arc<[String]>,
    metrics: Arc<ProxyMetrics>,
    /// Set when the proxy begins to shut down.
    draining: Arc<AtomicBool>,
}

impl ModernFront {
    /// Starts the modern leg: the era probe (with `--child-era auto`) and, when translating,
    /// the warm-up of the pool, both in the background.
    pub fn start(
        config: &Config,
        router: ractor::ActorRef<RouterMsg>,
        index: Arc<SessionIndex>,
        metrics: Arc<ProxyMetrics>,
        draining: Arc<AtomicBool>,
    ) -> Result<ModernFront, getrandom::Error> {
        let modern = config.modern.clone();
        let max_inflight = config.session.max_inflight;
        let pool = |kind, changes| {
            ChildPool::new(
                kind,
                router.clone(),
                index.clone(),
                modern.clone(),
                max_inflight,
                changes,
            )
        };
        let changes = ChangeFeed::default();
        let translated = pool(SessionKind::Translated, Some(changes.clone()));
        let listen_settings = ListenSettings {
            keepalive: config.sse_keepalive,
            queue: config.session.stream_capacity,
            lease_wait: modern.lease_wait,
        };
        let listens = ListenHub::new(
            changes,
            translated.clone(),
            listen_settings,
            metrics.sse_stream_gauge(true),
        );
        let era = match modern.child_era {
            ChildEraSetting::Legacy => OnceCell::new_with(Some(ChildEra::Legacy)),
            ChildEraSetting::Modern => OnceCell::new_with(Some(ChildEra::Modern)),
            ChildEraSetting::Auto => OnceCell::new(),
        };
        let front = ModernFront(Arc::new(FrontShared {
            config: config.clone(),
            era,
            translated,
            passthrough: pool(SessionKind::Passthrough, None),
            listens,
            next_id: AtomicU64::new(1),
            parked: ParkedCalls::new(
                Arc::new(StateSealer::new(config.instance_id().cloned())?),
                modern.input_ttl,
            ),
            roots: modern.roots.clone().into(),
            metrics,
            draining,
        }));
        if modern.mode == ModernMode::Translate && modern.child_era == ChildEraSetting::Legacy {
            front.keep_translated_warm();
        }
        Ok(front)
    }

    /// Probes the command's era (once: concurrent first requests share the probe; a probe
    /// whose request went away is dropped, its child killed, and the next request probes).
    async fn probe_era(&self) -> ChildEra {
        let modern = &self.0.config.modern;
        let session = &self.0.config.session;
        let verdict =
            probe_child_era(&session.command, modern.probe_timeout, session.kill_grace).await;
        self.0
            .metrics
            .era
            .probed(verdict.era.label(), verdict.reason.label());
        tracing::info!(era = verdict.era.label(), reason = %verdict.reason, command = %session.command.display(), "probed the MCP server's protocol era (server/discover)");
        if verdict.era == ChildEra::Legacy && modern.mode == ModernMode::Translate {
            self.keep_translated_warm();
        }
        verdict.era
    }

    fn keep_translated_warm(&self) {
        let none = json!({});
        let key = partition_key(&none);
        self.0
            .translated
            .keep_warm(&key, &none, self.0.config.modern.pool_min);
    }

    /// Shutdown began: calls parked for their clients' answers are given up (their children's
    /// questions answered as cancelled, their requests cancelled), so the drain ends.
    pub fn drain(&self) {
        self.0.parked.expire_all();
    }

    /// A POST whose modern version header names a revision the proxy does not serve is
    /// refused before its body is read (with `--modern off` the body decides, as always).
    pub fn refuse_unserved_version(&self, headers: &HeaderMap) -> Option<Response> {
        if self.0.config.modern.mode == ModernMode::Off {
            return None;
        }
        refuse_unserved_version(headers, &SERVED_VERSIONS).map(Refusal::into_response)
    }

    /// Serves one POST classified as modern, whose body parsed into `frame`.
    pub async fn serve(&self, headers: &HeaderMap, frame: Frame) -> Response {
        self.0.metrics.era.request(RequestEra::Modern);
        let client_id = frame.id().cloned().unwrap_or(Value::Null);
        let modern = &self.0.config.modern;
        if modern.mode == ModernMode::Off {
            return refuse(
                StatusCode::BAD_REQUEST,
                client_id,
                INVALID_REQUEST,
                "this proxy does not serve MCP 2026-07-28 requests (--modern off); open a session with initialize",
            );
        }
        let call = match admit(headers, &frame, &SERVED_VERSIONS) {
            Err(refusal) => return refusal.into_response(),
            // Notifications have no meaning on the modern transport over HTTP; a posted
            // cancellation must not cancel another caller's request by id.
            Ok(Admitted::Notification) => return StatusCode::ACCEPTED.into_response(),
            Ok(Admitted::Request(call)) => call,
        };
        let mut listen = None;
        if call.method == "subscriptions/listen" {
            match self.0.listens.reserve() {
                Some(slot) => listen = Some(slot),
                None => return ListenHub::refuse_full(&client_id),
            }
        }
        let is_discover = call.method == "server/discover";
        // A 5xx would end a TypeScript client's era negotiation instead of letting it fall back.
        let unavailable = if is_discover {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        if self.0.draining.load(Ordering::Relaxed) {
            return with_retry_after(refuse(
                unavailable,
                client_id,
                INTERNAL_ERROR,
                "the proxy is shutting down; retry on another instance",
            ));
        }
        let pool = match self.era().await {
            ChildEra::Modern => &self.0.passthrough,
            ChildEra::Legacy if modern.mode == ModernMode::Translate => &self.0.translated,
            ChildEra::Legacy => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    client_id,
                    INVALID_REQUEST,
                    "this MCP server speaks only the 2025 protocol revisions: open a session with initialize (the operator can serve 2026-07-28 clients from it with --modern translate)",
                );
            }
        };
        let translate = pool.kind() == SessionKind::Translated;
        if translate {
            self.keep_translated_warm();
            if is_discover {
                return self.discover(client_id).await;
            }
            if let Some(slot) = listen.take() {
                let listens = &self.0.listens;
                return listens
                    .serve_translated(slot, client_id, frame.params())
                    .await;
            }
        }
        let (frame, call) = match self.retry(frame, call, client_id.clone()).await {
            Retry::Answered(response) => return response,
            Retry::ToChild(outgoing) => return self.forward(outgoing).await,
            Retry::Fresh(frame, call) => (frame, call),
        };
        // A translated request that declares roots, sampling or elicitation holds its child
        // alone: a legacy server's question can then only be about this request.
        let exclusive = translate && is_interactive(&call.capabilities);
        let key = if translate {
            let mut key = partition_key(&call.capabilities);
            if let Some(name) = &modern.partition_header {
                key.push('|');
                key.push_str(
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(""),
                );
            }
            key
        } else {
            String::new()
        };
        let lease = match pool.lease(&key, &call.capabilities, exclusive).await {
            Ok(lease) => lease,
            Err(err @ LeaseError::Exhausted) => {
                self.0.metrics.era.lease(false);
                return with_retry_after(refuse(
                    unavailable,
                    client_id,
                    INTERNAL_ERROR,
                    &err.to_string(),
                ));
            }
            Err(err @ LeaseError::Unavailable(_)) => {
                self.0.metrics.era.lease(false);
                let status = if is_discover {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::BAD_GATEWAY
                };
                return refuse(status, client_id, INTERNAL_ERROR, &err.to_string());
            }
        };
        self.0.metrics.era.lease(true);
        self.forward(Outgoing {
            lease,
            frame,
            call,
            client_id,
            translate,
            exclusive,
            listen,
        })
        .await
    }

    /// Shutdown: every `subscriptions/listen` stream ends with its closing result (waits a
    /// bounded time for them).
    pub async fn end_listens(&self) {
        self.0.listens.end_all().await;
    }

    /// The command's era, probing it if nobody has yet. The probe is bounded by
    /// `--child-era-probe-timeout` (plus the child's stop); a probe that still does not end
    /// counts as legacy for this request, like a silent child.
    async fn era(&self) -> ChildEra {
        let wait = self.0.config.modern.probe_timeout + VERDICT_MARGIN;
        let probed = self.0.era.get_or_init(|| self.probe_era());
        tokio::time::timeout(wait, probed)
            .await
            .map_or(ChildEra::Legacy, |era| *era)
    }

    /// `server/discover` for a legacy-only child: built from a warm child's `InitializeResult`,
    /// without a lease (it must answer while every child is busy).
    async fn discover(&self, client_id: Value) -> Response {
        let wait = self.0.config.modern.lease_wait;
        match self.0.translated.initialize_result(wait).await {
            Some(result) => {
                let answer = Frame::response(client_id, discover_result(&result, &SERVED_VERSIONS));
                json_response(StatusCode::OK, answer.to_bytes())
            }
            None => refuse(
                StatusCode::BAD_REQUEST,
                client_id,
                INTERNAL_ERROR,
                "the MCP server has not started (or cannot start): no pooled child has answered initialize yet; retry, or open a session with initialize",
            ),
        }
    }
}
