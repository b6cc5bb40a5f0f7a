//! `ModernCall`: one 2026-07-28 request on a leased pooled child, from the moment it is sent to
//! the session until its answer is handed to the client.
//!
//! The request travels under an id (and progress token) unique in the proxy, because callers
//! share the child and their own ids collide; the answer and progress notifications get the
//! caller's back. What the child sends on the request's stream is sorted here: the answer ends
//! the call (translated answers are patched to the modern result shape), progress goes to the
//! caller, and so do log messages of a request that set a log level on a child it holds
//! alone; a server→client request becomes a question for the caller (an [`Ask`], when the
//! request may be answered with `InputRequiredResult` and holds its child alone) or is
//! answered by the proxy (`modern/server_asks.rs`); anything else is dropped (a modern client
//! never receives unrequested messages).
//!
//! The call cancels itself when dropped before its answer: the client closed the response
//! (the modern transport's cancellation), so the child gets `notifications/cancelled`.

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};

use super::envelope::{patch_error, patch_result, restore_progress_token};
use std::sync::Arc;

use super::pool::Lease;
use super::pooled_child::send_to_session;
use super::server_asks::{
    ASKABLE, Ask, missing_capability, missing_capability_error, proxy_answer,
};
use crate::frame::{Frame, FrameKind};
use crate::stream::{StreamEnd, StreamEvent, StreamReceiver};

/// What the caller sent that the answer must restore, and how to shape it.
pub struct CallPlan {
    /// The caller's JSON-RPC id.
    pub client_id: Value,
    /// The id the request travels under.
    pub proxy_id: Value,
    /// The caller's progress token and the one the request travels under.
    pub progress: Option<(Value, Value)>,
    pub method: String,
    /// Translated (legacy child): answers are patched to the 2026-07-28 shape.
    pub translate: bool,
    /// `serverInfo` stamped on translated results.
    pub server_info: Option<Value>,
    /// The request holds its (translated) child alone and may be answered with an
    /// `InputRequiredResult`: the child's questions are the caller's.
    pub may_ask: bool,
    /// The capabilities the request declared.
    pub capabilities: Value,
    /// The request's `io.modelcontextprotocol/logLevel`, honoured under an exclusive lease.
    pub log_level: Option<String>,
    /// `--roots`, for a child's `roots/list` the caller cannot be asked.
    pub roots: Arc<[String]>,
    /// Seals a passthrough child's own `requestState` so the retry returns to that child.
    pub wrap_state: Option<StateWrapper>,
}

/// Seals a passthrough child's own `requestState` into the proxy's.
pub type StateWrapper = Box<dyn Fn(&str) -> String + Send + Sync>;

/// One call in progress.
pub struct ModernCall {
    rx: StreamReceiver,
    plan: CallPlan,
    /// Held until the answer: the child's slot is the call's.
    lease: Option<Lease>,
    /// A step read behind a round of questions, delivered after them.
    early: Option<CallStep>,
}

/// The next thing a call has for its client.
pub enum CallStep {
    /// A notification for the caller (progress): the answer becomes an SSE stream.
    Event(Bytes),
    /// The answer, with the HTTP status the modern transport gives it.
    Answer(StatusCode, Bytes),
    /// The child asks the caller: the call is parked and answered with an
    /// `InputRequiredResult` (the questions that came together).
    Ask(Vec<Ask>),
}

impl ModernCall {
    pub fn new(rx: StreamReceiver, plan: CallPlan, lease: Lease) -> ModernCall {
        ModernCall {
            rx,
            plan,
            lease: Some(lease),
            early: None,
        }
    }

    /// The next step for the client; `None` if the session ended without answering (it
    /// answers every request it took, so only a session torn down mid-call gets here).
    pub async fn next(&mut self) -> Option<CallStep> {
        if let Some(step) = self.early.take() {
            if matches!(step, CallStep::Answer(..)) {
                self.lease = None;
            }
            return Some(step);
        }
        loop {
            let event = self.rx.recv().await?;
            match self.sort(event) {
                Some(CallStep::Ask(mut asks)) => {
                    // Questions the child sent together are asked together.
                    while let Ok(event) = self.rx.try_recv() {
                        match self.sort(event) {
                            Some(CallStep::Ask(more)) => asks.extend(more),
                            Some(other) => {
                                self.early = Some(other);
                                break;
                            }
                            None => {}
                        }
                    }
                    return Some(CallStep::Ask(asks));
                }
                Some(step) => {
                    if matches!(step, CallStep::Answer(..)) {
                        self.lease = None;
                    }
                    return Some(step);
                }
                None => {}
            }
        }
    }

    /// The caller retried: from now on the call answers under `client_id` (and the retry's
    /// progress token, if it has one); `answers` go to the child, each under the id of the
    /// question it answers.
    pub fn resume(
        &mut self,
        client_id: Value,
        progress: Option<Value>,
        answers: Vec<(Ask, Value)>,
    ) {
        self.plan.client_id = client_id;
        if let (Some(token), Some((original, _))) = (progress, self.plan.progress.as_mut()) {
            *original = token;
        }
        for (ask, result) in answers {
            self.send(Frame::response(ask.proxy_id, result));
        }
    }

    /// Answers the child's questions nobody answered (the parked call expired).
    pub fn abandon(&self, asks: &[Ask]) {
        for ask in asks {
            self.send(ask.unanswered());
        }
    }

    /// The caller's JSON-RPC id.
    pub fn client_id(&self) -> &Value {
        &self.plan.client_id
    }

    fn send(&self, frame: Frame) {
        if let Some(lease) = &self.lease {
            send_to_session(&lease.child().entry, frame);
        }
    }

    fn sort(&mut self, event: StreamEvent) -> Option<CallStep> {
        let StreamEvent { payload, end, .. } = event;
        let mut frame = match Frame::parse_bytes(payload.into_bytes()) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::warn!(error = %err, "dropped an unparsable message on a modern call's stream");
                return None;
            }
        };
        if let StreamEnd::Refused(status) = end {
            frame.replace_id(self.plan.client_id.clone());
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(CallStep::Answer(status, frame.to_bytes()));
        }
        match frame.kind() {
            FrameKind::Response | FrameKind::Error if frame.id() == Some(&self.plan.proxy_id) => {
                Some(self.answer(frame))
            }
            FrameKind::Request => self.on_question(&frame),
            FrameKind::Notification if frame.method() == Some("notifications/progress") => {
                let (original, ours) = self.plan.progress.as_ref()?;
                // A notification names its token in `params`, not in `params._meta`.
                let token = frame
                    .params()
                    .and_then(|params| params.get("progressToken"));
                if token != Some(ours) {
                    return None;
                }
                restore_progress_token(&mut frame, original.clone());
                Some(CallStep::Event(frame.to_bytes()))
            }
            FrameKind::Notification if frame.method() == Some("notifications/message") => self
                .wanted_log(&frame)
                .then(|| CallStep::Event(frame.to_bytes())),
            _ => None,
        }
    }

    /// A server→client request on this call's stream.
    fn on_question(&mut self, request: &Frame) -> Option<CallStep> {
        let method = request.method().unwrap_or_default();
        if self.plan.may_ask && ASKABLE.contains(&method) {
            if let Some(required) = missing_capability(request, &self.plan.capabilities) {
                // The child gets an error; the caller learns what it must declare, and the
                // child's request (now answered to nobody) is cancelled when this call drops.
                if let Some(refusal) = proxy_answer(request, &[]) {
                    self.send(refusal);
                }
                self.send(self.cancellation("the client cannot answer what the server asked"));
                let error = missing_capability_error(self.plan.client_id.clone(), method, required);
                return Some(CallStep::Answer(StatusCode::BAD_REQUEST, error.to_bytes()));
            }
            return Ask::of(request).map(|ask| CallStep::Ask(vec![ask]));
        }
        if let Some(answer) = proxy_answer(request, &self.plan.roots) {
            if answer.kind() == FrameKind::Error
                && let Some(lease) = &self.lease
            {
                tracing::info!(parent: &lease.child().span, method, "a pooled MCP server asked a modern client something it cannot be asked in this request; answered with an error");
            }
            self.send(answer);
        }
        None
    }

    /// Whether a log message goes to the caller: only when the request asked for logs (and
    /// holds its child alone, so the message is surely its own) at or above its level.
    fn wanted_log(&self, message: &Frame) -> bool {
        let Some(wanted) = self.plan.log_level.as_deref().filter(|_| self.plan.may_ask) else {
            return false;
        };
        let level = message
            .params()
            .and_then(|params| params.get("level"))
            .and_then(Value::as_str)
            .unwrap_or("info");
        severity(level) >= severity(wanted)
    }

    fn answer(&self, mut frame: Frame) -> CallStep {
        frame.replace_id(self.plan.client_id.clone());
        let status = if frame.kind() == FrameKind::Error {
            // The status of an error follows its code, for every child: the proxy owns the
            // HTTP side of the modern transport.
            patch_error(&mut frame)
        } else {
            if self.plan.translate {
                patch_result(
                    &self.plan.method,
                    &mut frame,
                    self.plan.server_info.as_ref(),
                );
            } else if let Some(wrap) = &self.plan.wrap_state {
                wrap_child_state(&mut frame, wrap.as_ref());
            }
            StatusCode::OK
        };
        CallStep::Answer(status, frame.to_bytes())
    }
}

/// RFC 5424 order of MCP log levels (unknown levels rank as `info`).
fn severity(level: &str) -> u8 {
    match level {
        "debug" => 0,
        "notice" => 2,
        "warning" => 3,
        "error" => 4,
        "critical" => 5,
        "alert" => 6,
        "emergency" => 7,
        _ => 1,
    }
}

/// Replaces the `requestState` of a passthrough child's `InputRequiredResult` with the
/// proxy's sealed wrapping of it.
fn wrap_child_state(frame: &mut Frame, wrap: &(dyn Fn(&str) -> String + Send + Sync)) {
    let Some(Value::String(state)) = frame.result().and_then(|result| result.get("requestState"))
    else {
        return;
    };
    let wrapped = wrap(state);
    if let Some(fields) = frame.result_mut().and_then(Value::as_object_mut) {
        fields.insert("requestState".into(), Value::from(wrapped));
    }
}

impl ModernCall {
    /// `notifications/cancelled` for this call's request at the child.
    fn cancellation(&self, reason: &str) -> Frame {
        Frame::notification(
            "notifications/cancelled",
            Some(json!({ "requestId": self.plan.proxy_id, "reason": reason })),
        )
    }
}

impl Drop for ModernCall {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let cancel = self.cancellation("the client closed the response");
        tracing::debug!(parent: &lease.child().span, method = %self.plan.method, "a modern client went away before its answer; cancelling the request at the MCP server");
        send_to_session(&lease.child().entry, cancel);
    }
}
