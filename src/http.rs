//! The Streamable HTTP endpoint: axum routes that check the transport's header rules and turn
//! each POST, GET and DELETE into a message to the session's actor (or the router).
//!
//! Every check that needs only headers answers before a byte of the body is read (Origin,
//! Host, protocol version, Content-Type, Accept, the session header, an over-long
//! `Content-Length`); the body is then read under `--max-body-bytes` and
//! `--body-read-timeout`. A request whose answer is slow is answered with SSE after
//! `--sse-after` (priming event first for 2025-11-25 clients, then keep-alives), so nothing
//! between client and proxy cuts a long call for silence.

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

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt;
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
use crate::sse::{SseSetup, sse_body};
use crate::stream::{EventId, INITIALIZE_STREAM, Priming, StreamEnd, StreamReceiver, StreamSender};

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
            metrics,
        }))
    }
}

/// The MCP endpoint's routes, merged with `ops` (health, readiness, metrics), which pass the
/// same `Origin` and `Host` checks: a DNS-rebinding page must not read `/metrics`.
pub fn routes(state: HttpState, ops: Router) -> Router {
    let endpoint = state.0.config.endpoint.clone();
    let ops = ops.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        guard_ops,
    ));
    Router::new()
        .route(
            &endpoint,
            post(post_message)
                .get(open_standalone_stream)
                .delete(close_session),
        )
        .with_state(state)
        .merge(ops)
}

/// The `Origin` and `Host` checks in front of the operational routes on the main listener.
async fn guard_ops(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    match state.check_origin_and_host(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused,
    }
}

/// Tells the session its `initialize` lost its client, unless disarmed once answered.
struct AbandonGuard(Option<ActorRef<SessionMsg>>);

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

async fn post_message(State(state): State<HttpState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    if let Err(refused) = state.check_common(headers) {
        return refused;
    }
    if !header_str(headers, header::CONTENT_TYPE.as_str()).is_some_and(rules::is_json_content_type)
    {
        return rpc_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "Content-Type must be application/json",
        );
    }
    if !rules::accepts_json_and_sse(&rules::accept_values(headers)) {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Accept must include both application/json and text/event-stream",
        );
    }
    // A session header must name a live session whatever the body holds: known before the
    // body is read. Without one, only the body tells an initialize from a mistake.
    let session = match SessionHeader::read(headers) {
        SessionHeader::Invalid => return invalid_session_header(),
        SessionHeader::Absent => None,
        SessionHeader::Present(id) => match state.0.index.get(id) {
            Some(entry) => Some(entry),
            None => return state.unknown_session(id),
        },
    };
    // A declared length is charged to the session's budget before the body is read: a
    // session whose server stopped reading is refused without the proxy taking the bytes.
    let declared_charge = match (&session, declared_length(headers)) {
        (Some(entry), Some(length)) => {
            match entry
                .budgets
                .to_child
                .try_charge(usize::try_from(length).unwrap_or(usize::MAX))
            {
                Ok(charge) => Some(charge),
                Err(over) => return closing(state.over_budget(over)),
            }
        }
        _ => None,
    };
    let body = match state.read_body(headers, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let frame = match Frame::parse(&body) {
        Ok(frame) => frame,
        Err(err) => return rpc_error(StatusCode::BAD_REQUEST, err.code(), &err.to_string()),
    };
    let is_initialize = frame.kind() == FrameKind::Request && frame.method() == Some("initialize");
    let priming = priming_for(headers, is_initialize.then_some(&frame));
    match (is_initialize, session) {
        (true, None) => state.open_session(frame, priming).await,
        (true, Some(_)) => rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "initialize opens a new session and must not carry Mcp-Session-Id",
        ),
        (false, None) => rpc_error(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Mcp-Session-Id header is required (send initialize first)",
        ),
        (false, Some(entry)) => {
            let Some(permit) = entry.inbox.try_reserve() else {
                state.0.metrics.limit_hit(Limit::Mailbox);
                return session_busy();
            };
            let charge = match declared_charge {
                Some(charge) => charge,
                None => match entry.budgets.to_child.try_charge(body.len()) {
                    Ok(charge) => charge,
                    Err(over) => return state.over_budget(over),
                },
            };
            if frame.kind() == FrameKind::Request {
                state
                    .forward_request(entry, frame, permit, charge, priming)
                    .await
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

/// The body length the client declared in `Content-Length`, if any.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    header_str(headers, header::CONTENT_LENGTH.as_str())?
        .trim()
        .parse()
        .ok()
}

/// Whether an SSE response to this request starts with a priming event: only for clients of
/// the 2025-11-25 transport or later, since older ones try to parse its empty data. The
/// `MCP-Protocol-Version` header says which (absent: an older client); an `initialize`, which
/// comes before any version is negotiated, says it in `params.protocolVersion`.
fn priming_for(headers: &HeaderMap, initialize: Option<&Frame>) -> Priming {
    let version = header_str(headers, PROTOCOL_VERSION_HEADER)
        .or_else(|| initialize?.params()?.get("protocolVersion")?.as_str());
    match version {
        Some(version) if rules::primes_streams(version) => Priming::Reserved,
        _ => Priming::None,
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
    // A resuming client names the last event it saw; the session replays what followed. Its
    // stream keeps its own ids, so only a new stream is primed.
    let resume = header_str(&headers, LAST_EVENT_ID_HEADER).and_then(EventId::parse);
    let priming = match resume {
        Some(_) => Priming::None,
        None => priming_for(&headers, None),
    };
    let (stream, rx) = state.open_stream(entry.streams.next(), priming);
    let priming = stream.priming_id();
    let listen = SessionMsg::AttachGetStream { stream, resume };
    if entry.actor.cast(listen).is_err() || !entry.is_open() {
        return session_not_found();
    }
    let setup = SseSetup {
        priming,
        first: None,
        comment_first: false,
        keepalive: state.0.config.sse_keepalive,
        gauge: state.0.metrics.sse_stream_gauge(true),
        on_unanswered: None,
    };
    sse_response(sse_body(setup, rx))
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
        self.check_origin_and_host(headers)?;
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

    /// The DNS-rebinding rules (`Origin`, `Host`), which the operational routes pass too.
    #[allow(clippy::result_large_err)]
    fn check_origin_and_host(&self, headers: &HeaderMap) -> Result<(), Response> {
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
        Ok(())
    }

    /// Reads a request body under `--max-body-bytes` (413, at once when `Content-Length`
    /// already says too much) and `--body-read-timeout` (408).
    #[allow(clippy::result_large_err)]
    async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
        let limit = self.0.config.max_body_bytes;
        if declared_length(headers).is_some_and(|length| length > limit as u64) {
            return Err(self.body_too_large());
        }
        let read = read_limited(body, limit);
        let read = match self.0.config.body_read_timeout {
            Some(deadline) => match tokio::time::timeout(deadline, read).await {
                Ok(read) => read,
                Err(_late) => {
                    tracing::warn!(
                        deadline_s = deadline.as_secs_f64(),
                        "refused a request whose body did not arrive in time (--body-read-timeout)"
                    );
                    let message = format!(
                        "the request body did not arrive within --body-read-timeout ({}s)",
                        deadline.as_secs_f64()
                    );
                    return Err(closing(rpc_error(
                        StatusCode::REQUEST_TIMEOUT,
                        INVALID_REQUEST,
                        &message,
                    )));
                }
            },
            None => read.await,
        };
        match read {
            Ok(body) => Ok(body),
            Err(BodyError::TooLarge) => Err(self.body_too_large()),
            Err(BodyError::Broken(err)) => Err(rpc_error(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                &format!("cannot read the request body: {err}"),
            )),
        }
    }

    /// 413: the body is (or says it is) larger than `--max-body-bytes`.
    fn body_too_large(&self) -> Response {
        self.0.metrics.limit_hit(Limit::MaxBodyBytes);
        let limit = self.0.config.max_body_bytes;
        closing(rpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            &format!("request body is larger than --max-body-bytes ({limit} bytes)"),
        ))
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

    /// Opens stream `number` of a session (the session's own numbering: see `StreamNumbers`).
    fn open_stream(&self, number: u64, priming: Priming) -> (StreamSender, StreamReceiver) {
        StreamSender::open(number, self.0.config.session.stream_capacity, priming)
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
    async fn open_session(&self, frame: Frame, priming: Priming) -> Response {
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
            initialize: frame,
            stream,
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
    async fn forward_request(
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
                with_retry_after(
                    (
                        status,
                        [(header::CONTENT_TYPE, "application/json")],
                        first.payload,
                    )
                        .into_response(),
                )
            }
            StreamEnd::Open | StreamEnd::Result | StreamEnd::Error => {
                let mut response = json_response(first.payload);
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

/// Adds `Connection: close`: the request's body was not read to its end, so the connection
/// cannot carry another request.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Why a body could not be read.
enum BodyError {
    /// More than the limit.
    TooLarge,
    /// The connection failed mid-body.
    Broken(axum::Error),
}

/// Reads a body of at most `limit` bytes (a single chunk is taken without a copy).
async fn read_limited(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut stream = body.into_data_stream();
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Broken)?;
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        chunks.push(chunk);
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => Bytes::from(chunks.concat()),
    })
}
