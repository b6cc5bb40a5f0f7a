//! The session's handlers for what the client sends: requests (including the first
//! `initialize`), notifications, answers to server→client requests, and the GET stream.

use ractor::ActorRef;
use serde_json::{Value, json};

use super::failure::ProxyError;
use super::inflight::proxy_number;
use super::{Phase, SessionMsg, SessionState, Waiting};
use crate::budget::Charge;
use crate::frame::{Frame, FrameKind, INVALID_REQUEST, SERVER_ERROR};
use crate::metrics::{FailReason, Limit};
use crate::protocol::CloseReason;
use crate::stream::{EventId, StreamEnd, StreamSender};

impl SessionState {
    /// A client request: forward it under a fresh proxy id. The session's first request,
    /// `initialize`, starts the child: that work is returned for the caller to await.
    pub(super) fn on_client_request<'a>(
        &'a mut self,
        myself: &'a ActorRef<SessionMsg>,
        frame: Frame,
        mut stream: StreamSender,
        charge: Option<Charge>,
    ) -> Option<Waiting<'a>> {
        stream.set_budget(self.budgets.to_client.clone());
        if self.phase == Phase::AwaitingInitialize {
            if frame.method() != Some("initialize") {
                let error = ProxyError::new(
                    INVALID_REQUEST,
                    "the session is not initialized yet",
                    FailReason::Limit,
                );
                self.fail_unforwarded(&frame, stream, &error);
                return None;
            }
            return Some(Box::pin(self.on_initialize(myself, frame, stream, charge)));
        }
        if self.draining {
            let error = ProxyError::new(
                SERVER_ERROR,
                "the proxy is shutting down; retry on a new session",
                FailReason::Shutdown,
            )
            .refused(503);
            self.fail_unforwarded(&frame, stream, &error);
        } else if self.requests.len() + self.held() >= self.config.max_inflight {
            tracing::warn!(parent: &self.span, limit = self.config.max_inflight, "request refused: too many requests in flight for this session (--max-inflight)");
            self.metrics.limit_hit(Limit::MaxInflight);
            let message = format!(
                "too many requests in flight for this session (--max-inflight {})",
                self.config.max_inflight
            );
            let error = ProxyError::new(SERVER_ERROR, message, FailReason::Limit).refused(429);
            self.fail_unforwarded(&frame, stream, &error);
        } else if self.is_restarting() {
            self.hold(frame, Some(stream), charge);
        } else {
            self.forward_request(myself, frame, stream, charge);
        }
        None
    }

    /// The client's `initialize`: start the child, then forward it.
    async fn on_initialize(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        mut frame: Frame,
        stream: StreamSender,
        charge: Option<Charge>,
    ) {
        if let Err(cause) = self.start_child(myself).await {
            let command = self.config.command.display();
            tracing::error!(parent: &self.span, %command, %cause, "cannot start the MCP server; check the command after `--`");
            let message = format!("cannot start MCP server `{command}`: {cause}");
            let data = json!({ "command": command, "cause": cause.to_string() });
            let error =
                ProxyError::new(SERVER_ERROR, message, FailReason::ChildExited).with_data(data);
            self.fail_unforwarded(&frame, stream, &error);
            self.close(myself, CloseReason::SpawnFailed);
            return;
        }
        self.handshake.observe_initialize(&frame);
        self.restarts.child_started();
        let proxy_id = self.requests.begin(&mut frame, stream);
        self.metrics
            .request_started(self.requests.method_of(proxy_id));
        self.phase = Phase::Initializing(proxy_id);
        self.write_to_child(&frame, charge);
        if self.config.request_timeout.is_some() {
            self.schedule_tick(myself);
        }
    }

    /// Sends a client request to the child under a fresh proxy id.
    pub(super) fn forward_request(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        mut frame: Frame,
        stream: StreamSender,
        charge: Option<Charge>,
    ) {
        let proxy_id = self.requests.begin(&mut frame, stream);
        self.metrics
            .request_started(self.requests.method_of(proxy_id));
        self.handshake.observe_forwarded(proxy_id, &frame);
        if !self.write_to_child(&frame, charge) {
            let error = ProxyError::new(
                SERVER_ERROR,
                "the MCP server is not running or not reading its input",
                FailReason::Limit,
            );
            self.fail_in_flight(proxy_id, &error);
        } else if self.config.request_timeout.is_some() {
            self.schedule_tick(myself);
        }
    }

    /// A client notification or answer.
    pub(super) fn on_client_message(&mut self, mut frame: Frame, charge: Option<Charge>) {
        match frame.kind() {
            FrameKind::Notification if self.is_restarting() => self.hold(frame, None, charge),
            FrameKind::Notification => {
                if frame.method() == Some("notifications/cancelled")
                    && !self.translate_client_cancellation(&mut frame)
                {
                    return;
                }
                self.write_to_child(&frame, charge);
            }
            FrameKind::Response | FrameKind::Error => {
                let answered =
                    proxy_number(frame.id()).and_then(|id| self.server_requests.finish(id));
                match answered {
                    Some(request) if request.generation == self.generation => {
                        frame.replace_id(request.child_id);
                        self.write_to_child(&frame, charge);
                    }
                    Some(_) => {
                        tracing::debug!(parent: &self.span, "dropped the client's answer to a request of a replaced MCP server process")
                    }
                    None => {
                        tracing::debug!(parent: &self.span, id = ?frame.id(), "dropped the client's answer to an unknown or expired server request")
                    }
                }
            }
            FrameKind::Request => {
                tracing::warn!(parent: &self.span, "a client request was delivered as a message; ignored");
            }
        }
    }

    /// Rewrites `params.requestId` of the client's cancellation to the proxy id, and forgets
    /// the request (its stream ends; the child should not answer it). Returns whether the
    /// cancellation concerns a request in flight and must be forwarded.
    fn translate_client_cancellation(&mut self, frame: &mut Frame) -> bool {
        let Some(params) = frame.params_mut().and_then(Value::as_object_mut) else {
            return false;
        };
        let Some(proxy_id) = params
            .get("requestId")
            .and_then(|id| self.requests.proxy_id_of(id))
        else {
            tracing::debug!(parent: &self.span, "the client cancelled a request that is not in flight; nothing to forward");
            return false;
        };
        params.insert("requestId".into(), Value::from(proxy_id));
        // The client gave up on it: its stream ends without an answer, and whatever it
        // declared is not replayed.
        self.requests.finish(proxy_id);
        self.handshake.forget(proxy_id);
        true
    }

    /// The client opened its standalone GET stream, or resumed a stream with `Last-Event-ID`.
    pub(super) fn on_listen(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        stream: StreamSender,
        resume: Option<EventId>,
    ) {
        let resumed = match resume {
            Some(last) => self.resume(stream, last),
            None => Err(stream),
        };
        let mut stream = match resumed {
            Ok(()) => return,
            Err(stream) if resume.is_none() => stream,
            Err(stream) => {
                tracing::debug!(parent: &self.span, last_event = ?resume, "cannot resume that stream (unknown or expired); opening a new GET stream");
                stream
            }
        };
        stream.set_budget(self.budgets.to_client.clone());
        if let Some(previous) = self.standalone.replace(stream) {
            tracing::debug!(parent: &self.span, stream = previous.id, "a new GET stream replaces the previous one");
            self.resumable.keep(previous);
            self.schedule_tick(myself);
        }
        self.flush_backlog();
    }

    /// Delivers the messages that waited for a GET stream.
    pub(super) fn flush_backlog(&mut self) {
        let mut parked = self.backlog.take_all();
        while let Some(item) = parked.pop_front() {
            let Some(stream) = &mut self.standalone else {
                self.backlog
                    .park(item.payload, item.server_request, item.charge);
                continue;
            };
            if stream.offer(item.payload.clone(), StreamEnd::Open).is_err() {
                if let Some(detached) = self.standalone.take() {
                    self.resumable.keep(detached);
                }
                self.backlog
                    .park(item.payload, item.server_request, item.charge);
            }
        }
    }
}
