//! `ModernCall`: one 2026-07-28 request on a leased pooled child, from the moment it is sent to
//! the session until its answer is handed to the client.
//!
//! The request travels under an id (and progress token) unique in the proxy, because callers
//! share the child and their own ids collide; the answer and progress notifications get the
//! caller's back. What the child sends on the request's stream is sorted here: the answer ends
//! the call (translated answers are patched to the modern result shape), progress goes to the
//! caller, a server→client request is answered by the proxy, anything else is dropped (a
//! modern client never receives unrequested messages).
//!
//! The call cancels itself when dropped before its answer: the client closed the response
//! (the modern transport's cancellation), so the child gets `notifications/cancelled`.

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Value, json};

use super::envelope::{patch_error, patch_result, restore_progress_token};
use super::pool::Lease;
use super::pooled_child::{answer_server_request, send_to_session};
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
}

/// One call in progress.
pub struct ModernCall {
    rx: StreamReceiver,
    plan: CallPlan,
    /// Held until the answer: the child's slot is the call's.
    lease: Option<Lease>,
}

/// The next thing a call has for its client.
pub enum CallStep {
    /// A notification for the caller (progress): the answer becomes an SSE stream.
    Event(Bytes),
    /// The answer, with the HTTP status the modern transport gives it.
    Answer(StatusCode, Bytes),
}

impl ModernCall {
    pub fn new(rx: StreamReceiver, plan: CallPlan, lease: Lease) -> ModernCall {
        ModernCall {
            rx,
            plan,
            lease: Some(lease),
        }
    }

    /// The next step for the client; `None` if the session ended without answering (it
    /// answers every request it took, so only a session torn down mid-call gets here).
    pub async fn next(&mut self) -> Option<CallStep> {
        loop {
            let event = self.rx.recv().await?;
            if let Some(step) = self.sort(event) {
                if matches!(step, CallStep::Answer(..)) {
                    self.lease = None;
                }
                return Some(step);
            }
        }
    }

    fn sort(&mut self, event: StreamEvent) -> Option<CallStep> {
        let StreamEvent { payload, end, .. } = event;
        let mut frame = match Frame::parse(&payload) {
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
            FrameKind::Request => {
                if let Some(lease) = &self.lease {
                    answer_server_request(&lease.child().entry, &frame, &lease.child().span);
                }
                None
            }
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
            _ => None,
        }
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
            }
            StatusCode::OK
        };
        CallStep::Answer(status, frame.to_bytes())
    }
}

impl Drop for ModernCall {
    fn drop(&mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let cancel = Frame::notification(
            "notifications/cancelled",
            Some(json!({
                "requestId": self.plan.proxy_id,
                "reason": "the client closed the response",
            })),
        );
        tracing::debug!(parent: &lease.child().span, method = %self.plan.method, "a modern client went away before its answer; cancelling the request at the MCP server");
        send_to_session(&lease.child().entry, cancel);
    }
}
