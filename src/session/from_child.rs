//! The session's handlers for what the child sends: answers to client requests, requests to
//! the client (sampling, elicitation, roots, ping, custom) and notifications, each delivered on
//! exactly one client stream; and lines the proxy could not read.

use ractor::ActorRef;
use serde_json::{Value, json};

use super::failure::ProxyError;
use super::inflight::proxy_number;
use super::route::{Destination, RouteContext, route_notification, route_request};
use super::{Phase, SERVER_REQUEST_TTL, SessionMsg, SessionState};
use crate::frame::{Frame, FrameKind, SERVER_ERROR};
use crate::metrics::{Direction, FailReason};
use crate::protocol::{CloseReason, LineProblem, SessionKind};
use crate::stream::{StreamDetached, StreamEnd};

impl SessionState {
    /// A frame from the current child.
    pub(super) fn on_child_frame(&mut self, myself: &ActorRef<SessionMsg>, mut frame: Frame) {
        match frame.kind() {
            FrameKind::Response | FrameKind::Error => {
                let Some(proxy_id) = proxy_number(frame.id()) else {
                    tracing::warn!(parent: &self.span, id = ?frame.id(), "the MCP server answered an id the proxy never sent; dropped");
                    return;
                };
                if self.consume_replay_answer(myself, proxy_id, &frame) {
                    return;
                }
                let accepted = frame.kind() == FrameKind::Response;
                let initialize =
                    (self.phase == Phase::Initializing(proxy_id)).then(|| frame.result().cloned());
                let delivered = self.answer(proxy_id, frame);
                self.handshake
                    .observe_answer(proxy_id, accepted && delivered);
                if let Some(result) = initialize {
                    self.on_initialize_answer(myself, result, delivered);
                }
            }
            FrameKind::Request => {
                if self.server_requests.len() >= self.config.max_inflight {
                    tracing::warn!(parent: &self.span, limit = self.config.max_inflight, "the MCP server has too many requests waiting for the client; refusing one");
                    self.metrics
                        .limit_hit(crate::metrics::Limit::ServerRequests);
                    let refusal = Frame::error_response(
                        frame.id().cloned().unwrap_or(Value::Null),
                        SERVER_ERROR,
                        "too many requests are waiting for the MCP client (hyper-mcp-proxy --max-inflight)",
                        None,
                    );
                    self.write_to_child(&refusal, None);
                    return;
                }
                let outbound_id = self.server_requests.begin(&mut frame, self.generation);
                self.schedule_tick(myself);
                let destination = route_request(self.route_context(None));
                self.deliver(myself, destination, &frame, Some(outbound_id));
            }
            FrameKind::Notification => {
                let related = match frame.method() {
                    Some("notifications/progress") => frame
                        .params()
                        .and_then(|params| params.get("progressToken"))
                        .and_then(|token| self.requests.with_progress_token(token)),
                    Some("notifications/cancelled") => {
                        if !self.translate_child_cancellation(&mut frame) {
                            return;
                        }
                        None
                    }
                    // A pooled child's log message goes with the only request in flight: the
                    // modern leg gives a request that asked for logs its child alone, and the
                    // call drops what its caller did not ask for.
                    Some("notifications/message") if self.kind.is_pooled() => self.requests.sole(),
                    _ => self.listen_of(&frame),
                };
                let destination = route_notification(self.route_context(related));
                self.deliver(myself, destination, &frame, None);
            }
        }
    }

    /// The forwarded `subscriptions/listen` a passthrough child's notification belongs to: a
    /// 2026-07-28 server tags every message of a listen stream with the listen's id (the proxy
    /// id it saw) under `_meta["io.modelcontextprotocol/subscriptionId"]`.
    fn listen_of(&mut self, notification: &Frame) -> Option<u64> {
        if self.kind != SessionKind::Passthrough {
            return None;
        }
        let tag = notification
            .params()?
            .get("_meta")?
            .get("io.modelcontextprotocol/subscriptionId");
        proxy_number(tag).filter(|&proxy_id| self.requests.get_mut(proxy_id).is_some())
    }

    /// The child answered the client's `initialize` (`result` is `None` for an error), and
    /// the answer was `delivered` to the client or not.
    fn on_initialize_answer(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        result: Option<Value>,
        delivered: bool,
    ) {
        let Some(result) = result else {
            tracing::warn!(parent: &self.span, "the MCP server refused initialize; ending the session");
            self.close(myself, CloseReason::InitFailed);
            return;
        };
        if !delivered {
            tracing::info!(parent: &self.span, "the client went away before the answer to initialize; ending the session and stopping its MCP server");
            self.close(myself, CloseReason::Abandoned);
            return;
        }
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        tracing::info!(parent: &self.span, protocol_version = version, "session ready");
        self.handshake.observe_initialize_result(Some(&result));
        self.phase = Phase::Ready;
        if let Some(interval) = self.config.ping_interval {
            self.after(myself, interval, || {
                SessionMsg::Timer(crate::protocol::SessionTimer::Ping)
            });
        }
    }

    /// A line of the child's output could not be used: fail the request it answered, if its
    /// id could be recovered, so that request does not wait forever.
    pub(super) fn on_unreadable_line(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        id: Option<Value>,
        problem: &LineProblem,
    ) {
        let Some(proxy_id) = id.as_ref().and_then(Value::as_u64) else {
            tracing::warn!(parent: &self.span, %problem, "no request could be matched to the unreadable line");
            return;
        };
        let error = ProxyError::new(SERVER_ERROR, problem.to_string(), FailReason::Unreadable)
            .with_data(json!({ "reason": "unreadable answer" }));
        if self.fail_in_flight(proxy_id, &error) {
            tracing::warn!(parent: &self.span, proxy_id, %problem, "failed the request whose answer could not be read");
            if self.phase == Phase::Initializing(proxy_id) {
                self.close(myself, CloseReason::InitFailed);
            }
        }
    }

    /// Rewrites `params.requestId` of the child's cancellation to the outbound id the client
    /// knows. Returns whether it concerns a request the client still has.
    fn translate_child_cancellation(&mut self, frame: &mut Frame) -> bool {
        let generation = self.generation;
        let Some(params) = frame.params_mut().and_then(Value::as_object_mut) else {
            return false;
        };
        let Some(outbound_id) = params
            .get("requestId")
            .and_then(|id| self.server_requests.outbound_id_of(generation, id))
        else {
            return false;
        };
        self.server_requests.finish(outbound_id);
        params.insert("requestId".into(), Value::from(outbound_id));
        true
    }

    /// Delivers the child's answer to client request `proxy_id`, restoring the client's id.
    /// Returns whether the client's stream took it.
    pub(super) fn answer(&mut self, proxy_id: u64, mut frame: Frame) -> bool {
        let Some(request) = self.requests.finish(proxy_id) else {
            tracing::debug!(parent: &self.span, proxy_id, "answer to a request that is no longer in flight (cancelled or failed); dropped");
            return false;
        };
        let end = if frame.kind() == FrameKind::Error {
            StreamEnd::Error
        } else {
            StreamEnd::Result
        };
        self.metrics
            .request_finished(request.method, request.started.elapsed().as_secs_f64());
        if end == StreamEnd::Error {
            self.metrics
                .request_failed(request.method, FailReason::ErrorResponse);
        }
        frame.replace_id(request.client_id);
        let payload = frame.to_one_line();
        self.metrics
            .message(Direction::ChildToClient, frame.kind(), payload.len());
        let Some(mut stream) = request.stream else {
            tracing::warn!(parent: &self.span, proxy_id, "the client's stream was detached before its answer arrived; answer dropped");
            return false;
        };
        let stream_id = stream.id;
        let offered = stream.offer(payload.clone(), end);
        if offered.is_err() && self.phase == Phase::Initializing(proxy_id) {
            // Nobody can resume it: the client never learned the session's id. The session
            // ends as abandoned.
            return false;
        }
        if offered.is_err() {
            // Kept for a client that resumes this stream with `Last-Event-ID`.
            stream.keep_for_resume(payload, end);
        }
        if offered.is_err() || stream.was_streamed() {
            // An SSE client may still resume it to get an answer it missed.
            self.resumable.keep(stream);
        }
        if let Err(why) = offered {
            tracing::warn!(parent: &self.span, stream = stream_id, ?why, "the client's stream was gone when its answer arrived; kept for a resume with Last-Event-ID");
            return false;
        }
        true
    }

    /// What routing needs to know now.
    fn route_context(&self, related: Option<u64>) -> RouteContext {
        RouteContext {
            related,
            sole: self.requests.sole(),
            newest: self.requests.newest_attached(),
            standalone: self.standalone_attached(),
        }
    }

    /// Whether the GET stream is open and its client reading.
    pub(super) fn standalone_attached(&self) -> bool {
        self.standalone
            .as_ref()
            .is_some_and(|stream| stream.is_attached())
    }

    /// Puts a child message on one stream, falling back to the GET stream and then the backlog
    /// when the chosen stream is detached.
    fn deliver(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        mut destination: Destination,
        frame: &Frame,
        server_request: Option<u64>,
    ) {
        let payload = frame.to_one_line();
        self.metrics
            .message(Direction::ChildToClient, frame.kind(), payload.len());
        loop {
            let offered = match destination {
                Destination::Request(proxy_id) => {
                    let Some(request) = self.requests.get_mut(proxy_id) else {
                        destination = self.fallback();
                        continue;
                    };
                    match &mut request.stream {
                        Some(stream) => stream.offer(payload.clone(), StreamEnd::Open),
                        None => Err(StreamDetached::Closed),
                    }
                }
                Destination::Standalone => {
                    let outcome = match &mut self.standalone {
                        Some(stream) => stream.offer(payload.clone(), StreamEnd::Open),
                        None => Err(StreamDetached::Closed),
                    };
                    if outcome.is_err()
                        && let Some(detached) = self.standalone.take()
                    {
                        // What it already delivered can be replayed on resume; what follows
                        // waits in the backlog for the next GET.
                        self.resumable.keep(detached);
                    }
                    outcome
                }
                Destination::Backlog => {
                    let charge = match self.budgets.to_client.try_charge(payload.len()) {
                        Ok(charge) => charge,
                        Err(over) => {
                            tracing::warn!(parent: &self.span, ?over, "no client stream is open and the session's byte budget is spent; a message of the MCP server was dropped (raise --max-session-buffer-bytes or open the GET stream)");
                            self.metrics.limit_hit(over.into());
                            self.expire_server_request(server_request);
                            return;
                        }
                    };
                    if let Some(evicted) = self.backlog.park(payload, server_request, charge) {
                        tracing::warn!(parent: &self.span, "backlog full: the oldest message waiting for a client stream was dropped");
                        self.expire_server_request(evicted.server_request);
                    }
                    self.schedule_tick(myself);
                    return;
                }
            };
            match offered {
                Ok(()) => return,
                Err(why) => {
                    tracing::warn!(parent: &self.span, ?why, "a client stream was detached (full or closed); rerouting the message");
                    destination = self.fallback();
                }
            }
        }
    }

    /// Where a message goes when its stream is gone.
    fn fallback(&self) -> Destination {
        if self.standalone_attached() {
            Destination::Standalone
        } else {
            Destination::Backlog
        }
    }

    /// Server→client requests the client left unanswered for [`SERVER_REQUEST_TTL`]: the
    /// child gets an error, the client a cancellation.
    pub(super) fn expire_server_requests(&mut self) {
        for outbound_id in self.server_requests.older_than(SERVER_REQUEST_TTL) {
            tracing::warn!(parent: &self.span, outbound_id, "the client did not answer a request of the MCP server in time; answering it with an error and cancelling it");
            self.expire_server_request(Some(outbound_id));
            let notice = Frame::notification(
                "notifications/cancelled",
                Some(json!({ "requestId": outbound_id, "reason": "request timed out" })),
            );
            if let Some(stream) = self.standalone.as_mut() {
                let _ = stream.offer(notice.to_one_line(), StreamEnd::Open);
            }
        }
    }

    /// Answers the child's request `outbound_id` with an error: no client could take it.
    pub(super) fn expire_server_request(&mut self, outbound_id: Option<u64>) {
        let Some(request) = outbound_id.and_then(|id| self.server_requests.finish(id)) else {
            return;
        };
        if request.generation != self.generation {
            return;
        }
        let answer = Frame::error_response(
            request.child_id,
            SERVER_ERROR,
            "no MCP client stream was open to deliver this request (hyper-mcp-proxy)",
            None,
        );
        self.write_to_child(&answer, None);
    }

    /// Tells the client that the child's unanswered requests are void (the child is gone).
    pub(super) fn cancel_server_requests(&mut self, reason: &str) {
        for outbound_id in self.server_requests.drain_generation(self.generation) {
            let notice = Frame::notification(
                "notifications/cancelled",
                Some(json!({ "requestId": outbound_id, "reason": reason })),
            );
            let payload = notice.to_one_line();
            let stream = match (self.standalone_attached(), self.requests.newest_attached()) {
                (true, _) => self.standalone.as_mut(),
                (false, Some(proxy_id)) => self.requests.stream_of(proxy_id),
                (false, None) => None,
            };
            if let Some(stream) = stream {
                let _ = stream.offer(payload, StreamEnd::Open);
            }
        }
    }
}
