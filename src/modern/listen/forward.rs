//! `ForwardedListen`: a `subscriptions/listen` passed through to a pooled child that speaks
//! 2026-07-28 itself. The child keeps the request open and tags every message of the stream
//! with the id it saw (the session's own), so each one is re-tagged with the client's listen
//! id, the final result too. Unlike an ordinary call (`modern/call.rs`), every notification
//! the session routes here belongs to the stream (it relates them by that tag).
//!
//! The stream ends with the child's answer, or at shutdown with the proxy's closing result;
//! a client that goes away (or the shutdown) cancels the request at the child.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use super::body::{BodySettings, ListenSource, SourceStep, listen_response};
use super::filter::{SUBSCRIPTION_ID_META, closing_result, retagged_answer, tagged};
use super::unavailable;
use crate::frame::{Frame, FrameKind};
use crate::modern::envelope::patch_error;
use crate::modern::pool::Lease;
use crate::modern::pooled_child::{answer_server_request, send_to_session};
use crate::modern::respond::json as json_response;
use crate::stream::{StreamEnd, StreamReceiver};

/// One forwarded listen.
pub struct ForwardedListen {
    /// The request's stream in the child's session.
    rx: StreamReceiver,
    /// The client's listen id: the stream's subscription id.
    client_id: Value,
    /// The id the proxy sent the request under (the session's client id for it).
    proxy_id: Value,
    /// Held until the child answers; released with a cancellation otherwise.
    lease: Option<Lease>,
    /// The stream's place under the cap on listens.
    _slot: OwnedSemaphorePermit,
}

/// What the child sent next, sorted.
enum Forwarded {
    Event(Bytes),
    /// The child's answer, and its HTTP status if it is the first thing sent.
    Answer(StatusCode, Bytes),
    Lost,
}

impl ForwardedListen {
    pub fn new(
        rx: StreamReceiver,
        client_id: Value,
        proxy_id: Value,
        lease: Lease,
        slot: OwnedSemaphorePermit,
    ) -> ForwardedListen {
        ForwardedListen {
            rx,
            client_id,
            proxy_id,
            lease: Some(lease),
            _slot: slot,
        }
    }

    async fn step(&mut self) -> Forwarded {
        loop {
            let Some(event) = self.rx.recv().await else {
                return Forwarded::Lost;
            };
            let Ok(mut frame) = Frame::parse_bytes(event.payload.into_bytes()) else {
                continue;
            };
            if let StreamEnd::Refused(status) = event.end {
                self.lease = None;
                frame.replace_id(self.client_id.clone());
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                return Forwarded::Answer(status, frame.to_bytes());
            }
            match frame.kind() {
                FrameKind::Response if frame.id() == Some(&self.proxy_id) => {
                    self.lease = None;
                    let answer = retagged_answer(&frame, &self.client_id);
                    return Forwarded::Answer(StatusCode::OK, answer.to_bytes());
                }
                FrameKind::Error if frame.id() == Some(&self.proxy_id) => {
                    self.lease = None;
                    frame.replace_id(self.client_id.clone());
                    let status = patch_error(&mut frame);
                    return Forwarded::Answer(status, frame.to_bytes());
                }
                FrameKind::Request => {
                    if let Some(lease) = &self.lease {
                        answer_server_request(
                            &lease.child().entry,
                            &frame,
                            &lease.child().span,
                            &lease.child().roots,
                        );
                    }
                }
                // Only what the child tagged as the stream's: with the session's standalone
                // stream unavailable, unrelated notifications could land here too.
                FrameKind::Notification if is_tagged(&frame) => {
                    return Forwarded::Event(tagged(&frame, &self.client_id).to_bytes());
                }
                _ => {}
            }
        }
    }

    /// Cancels the request at the child, unless it was answered.
    fn cancel(&mut self, reason: &str) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let cancel = Frame::notification(
            "notifications/cancelled",
            Some(json!({ "requestId": self.proxy_id, "reason": reason })),
        );
        tracing::debug!(parent: &lease.child().span, reason, "ending a forwarded listen stream at the MCP server");
        send_to_session(&lease.child().entry, cancel);
    }
}

impl ListenSource for ForwardedListen {
    async fn next(&mut self) -> SourceStep {
        match self.step().await {
            Forwarded::Event(event) => SourceStep::Event(event),
            Forwarded::Answer(_, answer) => SourceStep::Last(answer),
            Forwarded::Lost => SourceStep::Lost,
        }
    }

    fn close(&mut self) -> Vec<Bytes> {
        self.cancel("the proxy is shutting down");
        vec![closing_result(&self.client_id).to_bytes()]
    }
}

impl Drop for ForwardedListen {
    fn drop(&mut self) {
        self.cancel("the client closed the listen stream");
    }
}

/// Answers a forwarded listen: an error the child answers at once is a JSON answer with its
/// status; otherwise the SSE stream opens with the child's first message (its
/// acknowledgement), or with a keep-alive comment when nothing came within `sse_after`.
pub async fn respond_forwarded(
    mut listen: ForwardedListen,
    sse_after: Option<Duration>,
    settings: BodySettings,
) -> Response {
    let first = match sse_after {
        Some(after) => tokio::time::timeout(after, listen.step()).await.ok(),
        None => Some(listen.step().await),
    };
    match first {
        Some(Forwarded::Answer(status, answer)) => json_response(status, answer),
        Some(Forwarded::Event(event)) => listen_response(listen, Some(event), settings),
        None => listen_response(listen, None, settings),
        Some(Forwarded::Lost) => unavailable(
            &listen.client_id,
            "the MCP server session serving this listen ended before answering; retry",
        ),
    }
}

/// Whether a notification names a listen stream.
fn is_tagged(notification: &Frame) -> bool {
    notification
        .params()
        .and_then(|params| params.get("_meta"))
        .and_then(|meta| meta.get(SUBSCRIPTION_ID_META))
        .is_some()
}
