//! The Streamable HTTP endpoint: axum routes that check the transport's header rules and turn
//! each POST, GET and DELETE into a message to the session's actor (or the router).

mod misroute;
pub mod ops;
mod responses;
pub mod rules;

pub use responses::rpc_error;
use responses::{
    header_str, invalid_session_header, json_response, session_busy, session_not_found,
    sse_response, with_retry_after,
};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ractor::ActorRef;
use serde_json::Value;

use crate::budget::{Charge, OverBudget};
use crate::config::Config;
use crate::frame::{Frame, FrameKind, INTERNAL_ERROR, INVALID_REQUEST, SERVER_ERROR};
use crate::index::{SessionEntry, SessionIndex};
use crate::mailbox::MailboxPermit;
use crate::metrics::{Limit, ProxyMetrics};
use crate::protocol::{OpenError, OpenedSession, RouterMsg, SessionMsg};
use crate::session_id::{SESSION_HEADER, SessionHeader, SessionId};
use crate::session_stats::SessionStats;
use crate::sse::sse_body;
use crate::stream::{EventId, StreamEnd, StreamReceiver, StreamSender};
/// The header a client resumes an SSE stream with.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";
/// The protocol version header.
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";

/// What every handler shares.
#[derive(Clone)]
pub struct HttpState(Arc<HttpShared>);

/// The shared part of [`HttpState`].
pub struct HttpShared {
    /// Live sessions, read on every request.
    index: Arc<SessionIndex>,
    /// Lifecycle requests (open, close).
    router: ActorRef<RouterMsg>,
    /// The proxy's configuration.
    config: Config,
    /// Whether the listener is bound to a loopback address (enables `Host` checks).
    bound_to_loopback: bool,
    /// Source of stream numbers for SSE event ids.
    next_stream: AtomicU64,
    /// Counts open SSE streams.
    metrics: Arc<ProxyMetrics>,
}

impl HttpState {
    /// Builds the shared state for a listener bound to `local_addr`.
    pub fn new(
        index: Arc<SessionIndex>,
        router: ActorRef<RouterMsg>,
        config: Config,
        local_addr: SocketAddr,
        metrics: Arc<ProxyMetrics>,
    ) -> HttpState {
        HttpState(Arc::new(HttpShared {
            index,
            router,
            config,
            bound_to_loopback: rules::is_loopback_bind(&local_addr.ip()),
            next_stream: AtomicU64::new(1),
            metrics,
        }))
    }
}

/// The MCP endpoint's routes.
pub fn routes(state: HttpState) -> Router {
    let endpoint = state.0.config.endpoint.clone();
    let limit = state.0.config.max_body_bytes;
    Router::new()
        .route(
            &endpoint,
            post(post_message)
                .get(open_standalone_stream)
                .delete(close_session),
        )
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Tells the session its `initialize` lost its client, unless disarmed once answered.
struct AbandonGuard(Option<ActorRef<SessionMsg>>);

impl AbandonGuard {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if let Some(actor) = self.0.take() {
            let _ = actor.cast(SessionMsg::InitializeAbandoned);
        }
    }
}

async fn post_message(
    State(state): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(refused) = state.check_common(&headers) {
        return refused;
    }
    if !header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(rules::is_json_content_type)
    {
        return rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "Content-Type must be application/json",
        );
    }
    if !rules::accepts_json_and_sse(&rules::accept_values(&headers)) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Accept must include both application/json and text/event-stream",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            state.0.metrics.limit_hit(Limit::MaxBodyBytes);
            let limit = state.0.config.max_body_bytes;
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                INVALID_REQUEST,
                &format!("request body is larger than --max-body-bytes ({limit} bytes)"),
            );
        }
        Err(rejection) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                &rejection.body_text(),
            );
        }
    };
    let frame = match Frame::parse(&body) {
        Ok(frame) => frame,
        Err(err) => return rpc_error(StatusCode::BAD_REQUEST, err.code(), &err.to_string()),
    };
    let is_initialize = frame.kind() == FrameKind::Request && frame.method() == Some("initialize");
    match (is_initialize, SessionHeader::read(&headers)) {
        (_, SessionHeader::Invalid) => invalid_session_header(),
        (true, SessionHeader::Absent) => state.open_session(frame).await,
        (true, SessionHeader::Present(_)) => rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "initialize opens a new session and must not carry Mcp-Session-Id",
        ),
        (false, SessionHeader::Absent) => rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Mcp-Session-Id header is required (send initialize first)",
        ),
        (false, SessionHeader::Present(id)) => {
            let Some(entry) = state.0.index.get(id) else {
                return state.unknown_session(id);
            };
            let Some(permit) = entry.inbox.try_reserve() else {
                state.0.metrics.limit_hit(Limit::Mailbox);
                return session_busy();
            };
            let charge = match entry.budgets.to_child.try_charge(body.len()) {
                Ok(charge) => charge,
                Err(over) => return state.over_budget(over),
            };
            if frame.kind() == FrameKind::Request {
                state.forward_request(entry, frame, permit, charge).await
            } else if entry
                .actor
                .cast(SessionMsg::ClientMessage {
                    frame,
                    permit,
                    charge,
                })
                .is_ok()
                && entry.is_open()
            {
                StatusCode::ACCEPTED.into_response()
            } else {
                session_not_found()
            }
        }
    }
}

async fn open_standalone_stream(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Err(refused) = state.check_common(&headers) {
        return refused;
    }
    if !rules::accepts_sse(&rules::accept_values(&headers)) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Accept must include text/event-stream",
        );
    }
    let entry = match state.session_of(&headers) {
        Ok(entry) => entry,
        Err(refused) => return refused,
    };
    // A resuming client names the last event it saw; the session replays what followed.
    let resume = header_str(&headers, LAST_EVENT_ID_HEADER).and_then(EventId::parse);
    let stream_id = state.0.next_stream.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = crate::stream::channel(state.0.config.session.stream_capacity);
    let listen = SessionMsg::AttachGetStream {
        tx,
        stream_id,
        resume,
    };
    if entry.actor.cast(listen).is_err() || !entry.is_open() {
        return session_not_found();
    }
    let gauge = state.0.metrics.sse_stream_gauge(true);
    sse_response(sse_body(None, rx, state.0.config.sse_keepalive, gauge))
}

async fn close_session(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Err(refused) = state.check_common(&headers) {
        return refused;
    }
    let id = match SessionHeader::read(&headers) {
        SessionHeader::Present(id) => SessionId::from_header(id),
        SessionHeader::Invalid => return invalid_session_header(),
        SessionHeader::Absent => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "Mcp-Session-Id header is required",
            );
        }
    };
    let closed = ractor::call!(state.0.router, |reply| RouterMsg::Close {
        id: id.clone(),
        reply
    });
    match closed {
        Ok(true) => StatusCode::OK.into_response(),
        Ok(false) => state.unknown_session(id.as_str()),
        Err(_) => rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            INTERNAL_ERROR,
            "the proxy is shutting down",
        ),
    }
}

impl HttpState {
    /// Origin, Host and protocol-version rules shared by every method.
    #[allow(clippy::result_large_err)]
    fn check_common(&self, headers: &HeaderMap) -> Result<(), Response> {
        let config = &self.0.config;
        if let Some(origin) = headers.get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .is_ok_and(|origin| rules::origin_allowed(origin, &config.allow_origin));
            if !allowed {
                tracing::warn!(origin = ?origin, "refused a request from a disallowed Origin (add it with --allow-origin)");
                return Err(rpc_error(
                    StatusCode::FORBIDDEN,
                    INVALID_REQUEST,
                    "Origin not allowed",
                ));
            }
        }
        if let Some(host) = headers.get(header::HOST) {
            let allowed = host.to_str().is_ok_and(|host| {
                rules::host_allowed(host, self.0.bound_to_loopback, &config.allow_host)
            });
            if !allowed {
                tracing::warn!(host = ?host, "refused a request for a disallowed Host (add it with --allow-host)");
                return Err(rpc_error(
                    StatusCode::FORBIDDEN,
                    INVALID_REQUEST,
                    "Host not allowed",
                ));
            }
        }
        if let Some(version) = headers.get(PROTOCOL_VERSION_HEADER)
            && !version
                .to_str()
                .is_ok_and(rules::protocol_version_supported)
        {
            let message = format!(
                "unsupported MCP-Protocol-Version {version:?}; supported: {}",
                rules::SUPPORTED_PROTOCOL_VERSIONS
                    .iter()
                    .map(|version| version.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                &message,
            ));
        }
        Ok(())
    }

    /// The session named by the request's header: 400 without one, 404 for an unknown one.
    #[allow(clippy::result_large_err)]
    fn session_of(&self, headers: &HeaderMap) -> Result<SessionEntry, Response> {
        match SessionHeader::read(headers) {
            SessionHeader::Present(id) => {
                self.0.index.get(id).ok_or_else(|| self.unknown_session(id))
            }
            SessionHeader::Invalid => Err(invalid_session_header()),
            SessionHeader::Absent => Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "Mcp-Session-Id header is required",
            )),
        }
    }

    fn new_stream(&self) -> (StreamSender, crate::stream::StreamReceiver) {
        let id = self.0.next_stream.fetch_add(1, Ordering::Relaxed);
        StreamSender::channel(id, self.0.config.session.stream_capacity)
    }

    /// 429 (this session) or 503 (the whole proxy): too much client data is queued for the
    /// MCP servers; the client should retry once they have read it.
    fn over_budget(&self, over: OverBudget) -> Response {
        self.0.metrics.limit_hit(over.into());
        let (status, message) = match over {
            OverBudget::Session => (
                StatusCode::TOO_MANY_REQUESTS,
                "this session has too much data waiting for its MCP server (--max-session-buffer-bytes); retry shortly",
            ),
            OverBudget::Global => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the proxy has too much data waiting for MCP servers (--max-buffer-bytes); retry shortly",
            ),
        };
        tracing::warn!(?over, "message refused: byte budget spent");
        with_retry_after(rpc_error(status, SERVER_ERROR, message))
    }

    /// Opens a session for `initialize`; the session forwards it as its first act.
    async fn open_session(&self, frame: Frame) -> Response {
        // Refusals answer under the request's own id, like every answer to a request.
        let request_id = frame.id().cloned().unwrap_or(Value::Null);
        let refuse = |status, code, message: &str| {
            let body = Frame::error_response(request_id.clone(), code, message, None).to_bytes();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        };
        let (stream, rx) = self.new_stream();
        let opened = ractor::call!(self.0.router, |reply| RouterMsg::Open {
            initialize: frame,
            stream,
            reply,
        });
        match opened {
            Ok(Ok(OpenedSession { id, stats, actor })) => {
                // Dropped with this future if the client goes away before the answer: nobody
                // else knows the session's id, so the session must end.
                let guard = AbandonGuard(Some(actor));
                let response = self.respond(rx, &stats, request_id.clone(), Some(id)).await;
                guard.disarm();
                response
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
    async fn forward_request(
        &self,
        entry: SessionEntry,
        frame: Frame,
        permit: MailboxPermit,
        charge: Charge,
    ) -> Response {
        let request_id = frame.id().cloned().unwrap_or(Value::Null);
        let (stream, rx) = self.new_stream();
        let request = SessionMsg::Request {
            frame,
            stream,
            permit,
            charge,
        };
        if entry.actor.cast(request).is_err() {
            return session_not_found();
        }
        self.respond(rx, &entry.stats, request_id, None).await
    }

    /// Answers with JSON (when the answer comes first) or with an SSE stream (when anything
    /// else comes first). A stream that ends before any event never becomes an empty 200: the
    /// session ended (404) or dropped the request (an error under its id).
    async fn respond(
        &self,
        mut rx: StreamReceiver,
        stats: &SessionStats,
        request_id: Value,
        new_session: Option<SessionId>,
    ) -> Response {
        let Some(first) = rx.recv().await else {
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
        // A failed initialize ends its session: there is no id to hand out then.
        let new_session =
            new_session.filter(|_| first.end == StreamEnd::Open || first.end == StreamEnd::Result);
        let mut response = match first.end {
            StreamEnd::Refused(status) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                return with_retry_after(
                    (
                        status,
                        [(header::CONTENT_TYPE, "application/json")],
                        first.payload,
                    )
                        .into_response(),
                );
            }
            StreamEnd::Open => sse_response(sse_body(
                Some(first),
                rx,
                self.0.config.sse_keepalive,
                self.0.metrics.sse_stream_gauge(false),
            )),
            StreamEnd::Result | StreamEnd::Error => json_response(first.payload),
        };
        if let Some(id) = new_session
            && let Ok(value) = HeaderValue::from_str(id.as_str())
        {
            response.headers_mut().insert(SESSION_HEADER, value);
        }
        response
    }
}
