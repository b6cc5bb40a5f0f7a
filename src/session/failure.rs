//! The one way a session answers a client request with an error it made itself (a limit, a
//! dead child, a timeout, the session ending): counted once, under the client's own id, on the
//! request's own stream, and kept for a resume if the client's connection is gone.

use serde_json::Value;

use super::SessionState;
use crate::frame::Frame;
use crate::metrics::{FailReason, method_label};
use crate::stream::{StreamEnd, StreamSender};

/// An error the proxy answers a request with.
#[derive(Debug, Clone)]
pub(super) struct ProxyError {
    code: i64,
    message: String,
    data: Option<Value>,
    reason: FailReason,
    /// An HTTP status (429, 503) for refusals the client should retry; `None` answers 200
    /// with the JSON-RPC error, like any answer.
    status: Option<u16>,
}

impl ProxyError {
    pub(super) fn new(code: i64, message: impl Into<String>, reason: FailReason) -> ProxyError {
        ProxyError {
            code,
            message: message.into(),
            data: None,
            reason,
            status: None,
        }
    }

    pub(super) fn with_data(mut self, data: Value) -> ProxyError {
        self.data = Some(data);
        self
    }

    /// Answered with this HTTP status and `Retry-After` instead of 200.
    pub(super) fn refused(mut self, status: u16) -> ProxyError {
        self.status = Some(status);
        self
    }
}

impl SessionState {
    /// Answers a request with `error`. `method` is its metric label.
    pub(super) fn fail(
        &mut self,
        client_id: Value,
        method: usize,
        stream: Option<StreamSender>,
        error: &ProxyError,
    ) {
        self.metrics.request_failed(method, error.reason);
        let Some(mut stream) = stream else {
            return;
        };
        let frame =
            Frame::error_response(client_id, error.code, &error.message, error.data.clone());
        let end = error.status.map_or(StreamEnd::Error, StreamEnd::Refused);
        let payload = frame.to_one_line();
        let offered = stream.offer(payload.clone(), end);
        if offered.is_err() {
            stream.keep_for_resume(payload, end);
        }
        if offered.is_err() || stream.was_streamed() {
            self.resumable.keep(stream);
        }
    }

    /// Fails request `proxy_id` if it is still in flight; the child's late answer is dropped.
    pub(super) fn fail_in_flight(&mut self, proxy_id: u64, error: &ProxyError) -> bool {
        self.handshake.forget(proxy_id);
        match self.requests.finish(proxy_id) {
            Some(request) => {
                self.fail(request.client_id, request.method, request.stream, error);
                true
            }
            None => false,
        }
    }

    /// Fails a request that was never forwarded.
    pub(super) fn fail_unforwarded(
        &mut self,
        frame: &Frame,
        stream: StreamSender,
        error: &ProxyError,
    ) {
        let id = frame.id().cloned().unwrap_or(Value::Null);
        self.fail(id, method_label(frame.method()), Some(stream), error);
    }

    /// Fails every request in flight.
    pub(super) fn fail_all_in_flight(&mut self, error: &ProxyError) {
        self.handshake.forget_pending();
        for request in self.requests.drain() {
            self.fail(request.client_id, request.method, request.stream, error);
        }
    }
}
