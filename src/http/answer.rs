//! How a request is answered: open a session for `initialize` or send the request to its
//! session, then answer with JSON when the answer comes first, or switch to SSE when anything
//! else comes first or nothing came within `--sse-after`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ractor::ActorRef;
use serde_json::Value;

use super::HttpState;
use super::responses::{json_message_response, json_response, session_not_found, with_retry_after};
use crate::budget::Charge;
use crate::frame::{Frame, INTERNAL_ERROR, SERVER_ERROR};
use crate::index::SessionEntry;
use crate::mailbox::MailboxPermit;
use crate::protocol::{OpenError, OpenedSession, RouterMsg, SessionKind, SessionMsg};
use crate::session_id::{SESSION_HEADER, SessionId};
use crate::session_stats::SessionStats;
use crate::sse::{SseSetup, sse_body, sse_response};
use crate::stream::{EventId, INITIALIZE_STREAM, Priming, StreamEnd, StreamReceiver};

/// Tells the session its `initialize` lost its client, unless disarmed once answered.
pub(super) struct AbandonGuard(Option<ActorRef<SessionMsg>>);

impl AbandonGuard {
    fn disarm(mut self) {
        self.0 = None;
    }

    /// The guard as a callback for an SSE body, which calls it if dropped before the answer.
    fn into_callback(mut self) -> Option<Box<dyn FnOnce() + Send>> {
        let actor = self.0.take()?;
        Some(Box::new(move || {
            let _ = actor.cast(SessionMsg::InitializeAbandoned);
        }))
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if let Some(actor) = self.0.take() {
            let _ = actor.cast(SessionMsg::InitializeAbandoned);
        }
    }
}

impl HttpState {
    /// Opens a session for `initialize`; the session forwards it as its first act.
    pub(super) async fn open_session(&self, frame: Frame, priming: Priming) -> Response {
        // Refusals answer under the request's own id, like every answer to a request.
        let request_id = frame.id().cloned().unwrap_or(Value::Null);
        let refuse = |status, code, message: &str| {
            let body = Frame::error_response(request_id.clone(), code, message, None).to_bytes();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        };
        // The session does not exist yet: its first stream has the first number.
        let (stream, rx) = self.open_stream(INITIALIZE_STREAM, priming);
        let priming = stream.priming_id();
        let opened = ractor::call!(self.0.router, |reply| RouterMsg::Open {
            kind: SessionKind::Client,
            initialize: Some((frame, stream)),
            reply,
        });
        match opened {
            Ok(Ok(OpenedSession { id, stats, actor })) => {
                // Dropped with this future if the client goes away before the answer: nobody
                // else knows the session's id, so the session must end.
                let guard = AbandonGuard(Some(actor));
                let started = Started {
                    priming,
                    new_session: Some((id, guard)),
                };
                self.respond(rx, &stats, request_id.clone(), started).await
            }
            Ok(Err(err @ OpenError::Full(_))) => with_retry_after(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                SERVER_ERROR,
                &err.to_string(),
            )),
            Ok(Err(OpenError::Draining)) | Err(_) => with_retry_after(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                SERVER_ERROR,
                "the proxy is shutting down and accepts no new sessions",
            )),
            Ok(Err(err)) => {
                tracing::error!(error = %err, "cannot open a session");
                refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    INTERNAL_ERROR,
                    &err.to_string(),
                )
            }
        }
    }

    /// Sends a request to its session and answers with what comes back.
    pub(super) async fn forward_request(
        &self,
        entry: SessionEntry,
        frame: Frame,
        permit: MailboxPermit,
        charge: Charge,
        priming: Priming,
    ) -> Response {
        let request_id = frame.id().cloned().unwrap_or(Value::Null);
        let (stream, rx) = self.open_stream(entry.streams.next(), priming);
        let started = Started {
            priming: stream.priming_id(),
            new_session: None,
        };
        let request = SessionMsg::Request {
            frame,
            stream,
            permit,
            charge,
        };
        if entry.actor.cast(request).is_err() {
            return session_not_found();
        }
        self.respond(rx, &entry.stats, request_id, started).await
    }

    /// Answers with JSON (when the answer comes first, within `--sse-after`) or with an SSE
    /// stream (when anything else comes first, or nothing in time). A stream that ends before
    /// any event never becomes an empty 200: the session ended (404) or dropped the request
    /// (an error under its id).
    async fn respond(
        &self,
        mut rx: StreamReceiver,
        stats: &SessionStats,
        request_id: Value,
        started: Started,
    ) -> Response {
        let mut first = match self.0.config.sse_after {
            Some(delay) => match tokio::time::timeout(delay, rx.recv()).await {
                Ok(first) => first,
                Err(_slow) => return self.sse_answer(None, rx, started),
            },
            None => rx.recv().await,
        };
        if let Some(event) = first.take_if(|event| event.end == StreamEnd::Open) {
            return self.sse_answer(Some(event), rx, started);
        }
        // One JSON answer (or none): the exchange is over, the client no longer needed.
        let new_session = started.new_session.map(|(id, guard)| {
            guard.disarm();
            id
        });
        let Some(first) = first else {
            if stats.is_closing() {
                return session_not_found();
            }
            let body = Frame::error_response(
                request_id,
                SERVER_ERROR,
                "the request ended without an answer (it was cancelled)",
                None,
            )
            .to_bytes();
            return json_response(body);
        };
        match first.end {
            StreamEnd::Refused(status) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                with_retry_after(json_message_response(status, first.payload))
            }
            StreamEnd::Open | StreamEnd::Result | StreamEnd::Error => {
                let mut response = json_message_response(StatusCode::OK, first.payload);
                // A failed initialize ends its session: there is no id to hand out then.
                if let Some(id) = new_session.filter(|_| first.end == StreamEnd::Result) {
                    set_session_header(&mut response, &id);
                }
                response
            }
        }
    }

    /// An SSE answer: the priming event (if the stream reserved one), `first` (if taken off
    /// the stream already), then the stream with keep-alives until the answer.
    fn sse_answer(
        &self,
        first: Option<crate::stream::StreamEvent>,
        rx: StreamReceiver,
        started: Started,
    ) -> Response {
        let (new_session, on_unanswered) = match started.new_session {
            // Until the answer, the client that sent initialize must stay: if it goes, the
            // session ends (the guard travels with the body).
            Some((id, guard)) => (Some(id), guard.into_callback()),
            None => (None, None),
        };
        let setup = SseSetup {
            priming: started.priming,
            comment_first: first.is_none() && started.priming.is_none(),
            first,
            keepalive: self.0.config.sse_keepalive,
            gauge: self.0.metrics.sse_stream_gauge(false),
            on_unanswered,
        };
        let mut response = sse_response(sse_body(setup, rx));
        if let Some(id) = new_session {
            set_session_header(&mut response, &id);
        }
        response
    }
}

/// How a request's answer stream began.
struct Started {
    /// The id of the stream's priming event, if it reserved one.
    priming: Option<EventId>,
    /// For `initialize`: the new session's id and the guard that ends it if its client goes
    /// away before the answer.
    new_session: Option<(SessionId, AbandonGuard)>,
}

fn set_session_header(response: &mut Response, id: &SessionId) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
}
