//! Crash tolerance of a session: when its child dies, fail what was in flight, restart the
//! child after a backoff (or give up past the restart intensity), replay the client's
//! handshake to the new child, and hold the client's new requests until it is ready. Also the
//! liveness checks that turn a hung child into a restart (ping) or a timed-out request.

use std::collections::{HashSet, VecDeque};

use ractor::ActorRef;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::failure::ProxyError;
use super::handshake::negotiated_version;
use super::{Phase, SessionMsg, SessionState};
use crate::backoff::{RestartDecision, random_jitter};
use crate::budget::Charge;
use crate::frame::{Frame, FrameKind, IdKey, SERVER_ERROR};
use crate::metrics::{FailReason, Limit};
use crate::process::ExitReport;
use crate::protocol::{CloseReason, SessionKind, SessionTimer};
use crate::stream::StreamSender;

/// JSON-RPC code of a request the proxy timed out (the MCP SDKs' "request timeout").
pub const REQUEST_TIMEOUT: i64 = -32001;

/// A client message held while the child restarts.
pub(super) struct Queued {
    frame: Frame,
    /// For requests: the stream that carries the answer.
    stream: Option<StreamSender>,
    /// The client's bytes stay charged while they wait.
    charge: Option<Charge>,
    /// When it was queued, for the queue's deadline.
    since: Instant,
}

/// Client messages held while the child restarts, and the restart's own bookkeeping.
#[derive(Default)]
pub(super) struct RestartState {
    /// Held client messages, in arrival order.
    queue: VecDeque<Queued>,
    /// Proxy ids of replayed requests whose answers the proxy consumes.
    replay_ids: HashSet<u64>,
    /// The ping in flight: its proxy id.
    ping_outstanding: Option<u64>,
}

impl SessionState {
    /// The current child died after the session was initialized.
    pub(super) fn on_child_crash(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        report: ExitReport,
        pid: Option<u32>,
    ) {
        tracing::warn!(parent: &self.span, ?pid, exit = %report, generation = self.generation, "MCP server process exited unexpectedly");
        self.restart.ping_outstanding = None;
        self.restart.replay_ids.clear();
        self.handshake.forget_pending();
        self.cancel_server_requests("MCP server process exited");
        let data = json!({ "exit": report.to_json(), "generation": self.generation });
        let error = ProxyError::new(
            SERVER_ERROR,
            format!("MCP server process exited ({report})"),
            FailReason::ChildExited,
        )
        .with_data(data);
        self.fail_all_in_flight(&error);
        if self.draining {
            self.close(myself, CloseReason::Shutdown);
            return;
        }
        self.schedule_restart_or_give_up(myself, &report.to_string());
    }

    /// Applies the restart policy after a crash or a failed restart.
    fn schedule_restart_or_give_up(&mut self, myself: &ActorRef<SessionMsg>, cause: &str) {
        match self.restarts.on_exit(random_jitter()) {
            RestartDecision::RestartAfter(delay) => {
                self.phase = Phase::Restarting;
                tracing::warn!(parent: &self.span, generation = self.generation, %cause, backoff_ms = delay.as_millis() as u64, "restarting the MCP server after backoff");
                self.after(myself, delay, || SessionMsg::Timer(SessionTimer::Respawn));
                self.schedule_tick(myself);
            }
            RestartDecision::GiveUp => {
                let policy = self.config.restart;
                tracing::error!(parent: &self.span, %cause, max_restarts = policy.max_restarts, window_s = policy.window.as_secs_f64(), "MCP server keeps failing: restart limit reached, ending the session (the client's next request gets 404 and re-initializes); check the server's stderr above");
                self.close(myself, CloseReason::RestartLimit);
            }
        }
    }

    /// The backoff elapsed: start the next child and replay the handshake to it.
    pub(super) async fn respawn(&mut self, myself: &ActorRef<SessionMsg>) {
        if self.phase != Phase::Restarting {
            return;
        }
        if let Err(cause) = self.start_child(myself).await {
            tracing::error!(parent: &self.span, %cause, "cannot restart the MCP server");
            self.schedule_restart_or_give_up(myself, &cause.to_string());
            return;
        }
        self.restarts.child_started();
        self.metrics.child_restarts.inc();
        self.stats.restarted();
        if self.kind == SessionKind::Passthrough {
            // A 2026-07-28 child has no handshake: it is ready as soon as it runs.
            self.phase = Phase::Ready;
            tracing::info!(parent: &self.span, generation = self.generation, queued = self.restart.queue.len(), "MCP server restarted; the pooled session goes on");
            self.release_held(myself);
            return;
        }
        let proxy_id = self.requests.allocate_id();
        self.phase = Phase::Replaying(proxy_id);
        let initialize = self.handshake.initialize(proxy_id);
        self.write_to_child(&initialize, None);
        let generation = self.generation;
        self.after(myself, self.replay_deadline(), move || {
            SessionMsg::Timer(SessionTimer::ReplayDeadline { generation })
        });
    }

    /// How long a restarted child may take to answer the replayed `initialize`: the ping
    /// timeout when liveness pings are on, else as long as held requests may wait.
    fn replay_deadline(&self) -> std::time::Duration {
        match self.config.ping_interval {
            Some(_) => self.config.ping_timeout,
            None => self.config.restart_queue_timeout,
        }
    }

    /// The replayed `initialize` of child `generation` is due: a child still silent is hung;
    /// kill it, which counts as a failed restart.
    pub(super) fn on_replay_deadline(&mut self, generation: u64) {
        if generation != self.generation || !matches!(self.phase, Phase::Replaying(_)) {
            return;
        }
        if let Some(child) = &self.child {
            tracing::error!(parent: &self.span, pid = child.pid, generation, timeout_ms = self.replay_deadline().as_millis() as u64, "the restarted MCP server did not answer the replayed initialize in time; killing it");
        }
        self.kill_child();
    }

    /// Consumes the child's answer to a replayed request; returns whether it was one.
    pub(super) fn consume_replay_answer(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        proxy_id: u64,
        frame: &Frame,
    ) -> bool {
        if self.phase == Phase::Replaying(proxy_id) {
            self.on_replayed_initialize(myself, frame);
            return true;
        }
        if self.restart.ping_outstanding == Some(proxy_id) {
            self.restart.ping_outstanding = None;
            return true;
        }
        if self.restart.replay_ids.remove(&proxy_id) {
            if frame.kind() == FrameKind::Error {
                tracing::warn!(parent: &self.span, error = ?frame.error(), "the restarted MCP server refused a replayed request");
            }
            return true;
        }
        false
    }

    /// The restarted child answered the replayed `initialize`.
    fn on_replayed_initialize(&mut self, myself: &ActorRef<SessionMsg>, frame: &Frame) {
        if frame.kind() == FrameKind::Error {
            tracing::error!(parent: &self.span, error = ?frame.error(), "the restarted MCP server refused the replayed initialize; ending the session");
            self.close(myself, CloseReason::RehandshakeFailed);
            return;
        }
        let version = negotiated_version(frame.result());
        if version.as_deref() != self.handshake.protocol_version() {
            tracing::error!(parent: &self.span, before = ?self.handshake.protocol_version(), after = ?version, "the restarted MCP server negotiated a different protocol version; ending the session so the client re-initializes");
            self.close(myself, CloseReason::ProtocolChanged);
            return;
        }
        let requests = &mut self.requests;
        let replay = self.handshake.after_initialize(|| requests.allocate_id());
        for frame in &replay {
            if let Some(id) = frame.id().and_then(Value::as_u64) {
                self.restart.replay_ids.insert(id);
            }
            self.write_to_child(frame, None);
        }
        self.phase = Phase::Ready;
        tracing::info!(parent: &self.span, generation = self.generation, queued = self.restart.queue.len(), "MCP server restarted and re-initialized; the session goes on");
        self.release_held(myself);
    }

    /// Forwards the client messages held while the child restarted, in arrival order.
    fn release_held(&mut self, myself: &ActorRef<SessionMsg>) {
        let queued = std::mem::take(&mut self.restart.queue);
        for item in queued {
            match item.stream {
                Some(stream) => self.forward_request(myself, item.frame, stream, item.charge),
                None => self.on_client_message(item.frame, item.charge),
            }
        }
    }

    /// Whether client messages must wait for a restarting child.
    pub(super) fn is_restarting(&self) -> bool {
        matches!(self.phase, Phase::Restarting | Phase::Replaying(_))
    }

    /// Holds a client message until the restarted child is ready (bounded in number).
    pub(super) fn hold(
        &mut self,
        frame: Frame,
        stream: Option<StreamSender>,
        charge: Option<Charge>,
    ) {
        if frame.method() == Some("notifications/cancelled") && self.drop_queued_cancelled(&frame) {
            return;
        }
        if self.restart.queue.len() >= self.config.restart_queue_limit {
            tracing::warn!(parent: &self.span, limit = self.config.restart_queue_limit, "too many requests waiting for the restarting MCP server; refusing one");
            self.metrics.limit_hit(Limit::RestartQueue);
            if let Some(stream) = stream {
                let error = ProxyError::new(
                    SERVER_ERROR,
                    "the MCP server is restarting and too many requests are waiting",
                    FailReason::Limit,
                );
                self.fail_unforwarded(&frame, stream, &error);
            }
            return;
        }
        self.restart.queue.push_back(Queued {
            frame,
            stream,
            charge,
            since: Instant::now(),
        });
    }

    /// A cancellation of a request that is still queued removes it; returns whether it did.
    fn drop_queued_cancelled(&mut self, cancellation: &Frame) -> bool {
        let Some(target) = cancellation
            .params()
            .and_then(|params| params.get("requestId"))
            .and_then(IdKey::of)
        else {
            return false;
        };
        let before = self.restart.queue.len();
        self.restart.queue.retain(|item| {
            item.stream.is_none() || item.frame.id().and_then(IdKey::of).as_ref() != Some(&target)
        });
        before != self.restart.queue.len()
    }

    /// Answers held requests that waited too long (`--request-timeout` applies to them too),
    /// and every held request when the session ends.
    pub(super) fn expire_queue(&mut self, everything: bool) {
        let timeout = match self.config.request_timeout {
            Some(limit) => limit.min(self.config.restart_queue_timeout),
            None => self.config.restart_queue_timeout,
        };
        let error = ProxyError::new(
            SERVER_ERROR,
            if everything {
                "the MCP session was closed while its server was restarting"
            } else {
                "the MCP server did not come back in time after a crash"
            },
            FailReason::SessionClosed,
        );
        while let Some(front) = self.restart.queue.front() {
            if !everything && front.since.elapsed() < timeout {
                break;
            }
            let Some(item) = self.restart.queue.pop_front() else {
                break;
            };
            if let Some(stream) = item.stream {
                self.fail_unforwarded(&item.frame, stream, &error);
            }
        }
    }

    pub(super) fn has_queue(&self) -> bool {
        !self.restart.queue.is_empty()
    }

    pub(super) fn held(&self) -> usize {
        self.restart.queue.len()
    }

    /// Periodic liveness ping: a child that left the previous ping unanswered for
    /// `--ping-timeout` is killed (and so restarted).
    pub(super) fn on_ping(&mut self, myself: &ActorRef<SessionMsg>) {
        let Some(interval) = self.config.ping_interval else {
            return;
        };
        self.after(myself, interval, || SessionMsg::Timer(SessionTimer::Ping));
        if self.phase != Phase::Ready || self.restart.ping_outstanding.is_some() {
            return;
        }
        let proxy_id = self.requests.allocate_id();
        self.restart.ping_outstanding = Some(proxy_id);
        self.write_to_child(&Frame::request(Value::from(proxy_id), "ping", None), None);
        let generation = self.generation;
        self.after(myself, self.config.ping_timeout, move || {
            SessionMsg::Timer(SessionTimer::PingDeadline {
                proxy_id,
                generation,
            })
        });
    }

    /// The deadline of ping `proxy_id` passed.
    pub(super) fn on_ping_deadline(&mut self, proxy_id: u64, generation: u64) {
        if generation != self.generation || self.restart.ping_outstanding != Some(proxy_id) {
            return;
        }
        self.restart.ping_outstanding = None;
        if let Some(child) = &self.child {
            tracing::error!(parent: &self.span, pid = child.pid, timeout_ms = self.config.ping_timeout.as_millis() as u64, "MCP server did not answer ping in time; killing it (it will be restarted)");
        }
        self.kill_child();
    }

    /// Answers requests that exceeded `--request-timeout` and cancels them at the child.
    pub(super) fn expire_requests(&mut self) {
        let Some(timeout) = self.config.request_timeout else {
            return;
        };
        for proxy_id in self.requests.older_than(timeout) {
            let message = format!(
                "request timed out after {} ms (hyper-mcp-proxy --request-timeout)",
                timeout.as_millis()
            );
            tracing::warn!(parent: &self.span, proxy_id, "{message}; cancelling it at the MCP server");
            self.fail_in_flight(
                proxy_id,
                &ProxyError::new(REQUEST_TIMEOUT, message, FailReason::Timeout),
            );
            let cancel = Frame::notification(
                "notifications/cancelled",
                Some(json!({ "requestId": proxy_id, "reason": "request timed out" })),
            );
            self.write_to_child(&cancel, None);
        }
    }
}
