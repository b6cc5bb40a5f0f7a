//! The Streamable HTTP endpoint: axum routes that check the transport's header rules and turn
//! each POST, GET and DELETE into a message to the session's actor (or the router).
//!
//! Every check that needs only headers answers before a byte of the body is read (Origin,
//! Host, protocol version, Content-Type, Accept, the session header, an over-long
//! `Content-Length`); the body is then read under `--max-body-bytes` and
//! `--body-read-timeout`. A request whose answer is slow is answered with SSE after
//! `--sse-after` (priming event first for 2025-11-25 clients, then keep-alives), so nothing
//! between client and proxy cuts a long call for silence.
//!
//! Here: the shared state, the routes, the header rules every method shares, GET and DELETE.
//! `http/post.rs` is the POST handler, `http/body.rs` reads (or throws away) bodies,
//! `http/answer.rs` turns a session's stream into the HTTP answer.

mod answer;
mod body;
mod line_body;
mod misroute;
pub mod ops;
mod post;
mod responses;
pub mod rules;

pub use responses::rpc_error;
use responses::{header_str, invalid_session_header, session_not_found};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ractor::ActorRef;

use crate::config::Config;
use crate::frame::{INTERNAL_ERROR, INVALID_REQUEST};
use crate::index::{SessionEntry, SessionIndex};
use crate::metrics::ProxyMetrics;
use crate::modern::classify::is_modern_version_header;
pub use crate::modern::front::ModernFront;
use crate::protocol::{RouterMsg, SessionMsg};
use crate::session_id::{SessionHeader, SessionId};
use crate::sse::{SseSetup, sse_body, sse_response};
use crate::stream::{EventId, Priming, StreamReceiver, StreamSender};

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
    /// Serves 2026-07-28 requests.
    modern: ModernFront,
}

impl HttpState {
    /// Builds the shared state for a listener bound to `local_addr`.
    pub fn new(
        index: Arc<SessionIndex>,
        router: ActorRef<RouterMsg>,
        config: Config,
        local_addr: SocketAddr,
        metrics: Arc<ProxyMetrics>,
        modern: ModernFront,
    ) -> HttpState {
        HttpState(Arc::new(HttpShared {
            index,
            router,
            config,
            bound_to_loopback: rules::is_loopback_bind(&local_addr.ip()),
            metrics,
            modern,
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
            post(post::post_message)
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

async fn open_standalone_stream(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    if let Some(refused) = state.modern_get_or_delete(&headers) {
        return refused;
    }
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
        None => post::priming_for(&headers, None),
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
    if let Some(refused) = state.modern_get_or_delete(&headers) {
        return refused;
    }
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
    /// A GET or DELETE of a 2026-07-28 client: the modern transport has no session and no
    /// standalone stream, so the method is not allowed (405 `Allow: POST`).
    fn modern_get_or_delete(&self, headers: &HeaderMap) -> Option<Response> {
        if !is_modern_version_header(headers) {
            return None;
        }
        if let Err(refused) = self.check_origin_and_host(headers) {
            return Some(refused);
        }
        Some((StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]).into_response())
    }

    /// Origin, Host and protocol-version rules shared by every method.
    #[allow(clippy::result_large_err)]
    pub(super) fn check_common(&self, headers: &HeaderMap) -> Result<(), Response> {
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
    pub(super) fn check_origin_and_host(&self, headers: &HeaderMap) -> Result<(), Response> {
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

    /// The session named by the request's header: 400 without one, 404 for an unknown one.
    #[allow(clippy::result_large_err)]
    pub(super) fn session_of(&self, headers: &HeaderMap) -> Result<SessionEntry, Response> {
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
    pub(super) fn open_stream(
        &self,
        number: u64,
        priming: Priming,
    ) -> (StreamSender, StreamReceiver) {
        StreamSender::open(number, self.0.config.session.stream_capacity, priming)
    }
}
