//! The POST handler: the transport's header rules first (nothing of the body is read before
//! they pass, and a session's byte budget is charged from a declared `Content-Length`), then
//! the body, then the message goes to a new session (`initialize`) or to its session.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::{declared_length, discard_body};
use super::responses::{
    header_str, invalid_session_header, rpc_error, session_busy, session_not_found,
    with_retry_after,
};
use super::{HttpState, PROTOCOL_VERSION_HEADER, rules};
use crate::budget::OverBudget;
use crate::frame::{Frame, FrameKind, INVALID_REQUEST, SERVER_ERROR};
use crate::metrics::{Limit, RequestEra};
use crate::modern::classify::{Era, classify_post, is_modern_version_header};
use crate::protocol::SessionMsg;
use crate::session_id::SessionHeader;
use crate::stream::Priming;

pub(super) async fn post_message(State(state): State<HttpState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // A 2026-07-28 request is told by its version header before any session lookup (its
    // body may tell it too, below); the session rules do not apply to it.
    let modern_header = is_modern_version_header(headers);
    let checked = if modern_header {
        state.check_origin_and_host(headers)
    } else {
        state.check_common(headers)
    };
    if let Err(refused) = checked {
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
    if modern_header {
        // Boxed, like the other rare paths below: a future is as large as its largest
        // branch, and axum moves this one to the heap on every request (the modern leg's
        // state machines would make every legacy call copy about 8 KiB instead of 1).
        return Box::pin(state.serve_modern(headers, body)).await;
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
    // An over-long declared length is refused as such (413), never as a budget matter (429):
    // retrying would not help.
    if declared_length(headers).is_some_and(|length| length > state.0.config.max_body_bytes as u64)
    {
        return state.body_too_large();
    }
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
                Err(over) => {
                    let limit = state.0.config.max_body_bytes as u64;
                    discard_body(body, limit, state.0.config.body_read_timeout);
                    return state.over_budget(over);
                }
            }
        }
        _ => None,
    };
    let body = match state.read_body(headers, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let frame = match Frame::parse_bytes(body.clone()) {
        Ok(frame) => frame,
        Err(err) => return rpc_error(StatusCode::BAD_REQUEST, err.code(), &err.to_string()),
    };
    if session.is_none() && classify_post(headers, Some(&frame)) == Era::Modern {
        return Box::pin(state.0.modern.serve(headers, frame)).await;
    }
    state.0.metrics.era.request(RequestEra::Legacy);
    let is_initialize = frame.kind() == FrameKind::Request && frame.method() == Some("initialize");
    let priming = priming_for(headers, is_initialize.then_some(&frame));
    match (is_initialize, session) {
        (true, None) => Box::pin(state.open_session(frame, priming)).await,
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

/// Whether an SSE response to this request starts with a priming event: only for clients of
/// the 2025-11-25 transport or later, since older ones try to parse its empty data. The
/// `MCP-Protocol-Version` header says which (absent: an older client); an `initialize`, which
/// comes before any version is negotiated, says it in `params.protocolVersion`.
pub(super) fn priming_for(headers: &HeaderMap, initialize: Option<&Frame>) -> Priming {
    let version = header_str(headers, PROTOCOL_VERSION_HEADER)
        .or_else(|| initialize?.params()?.get("protocolVersion")?.as_str());
    match version {
        Some(version) if rules::primes_streams(version) => Priming::Reserved,
        _ => Priming::None,
    }
}

impl HttpState {
    /// A POST whose version header is a modern one: the body is read under the proxy's
    /// limits and served by the modern leg.
    async fn serve_modern(&self, headers: &HeaderMap, body: axum::body::Body) -> Response {
        if let Some(refused) = self.0.modern.refuse_unserved_version(headers) {
            return refused;
        }
        if declared_length(headers)
            .is_some_and(|length| length > self.0.config.max_body_bytes as u64)
        {
            return self.body_too_large();
        }
        let body = match self.read_body(headers, body).await {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        match Frame::parse_bytes(body) {
            Ok(frame) => self.0.modern.serve(headers, frame).await,
            Err(err) => rpc_error(StatusCode::BAD_REQUEST, err.code(), &err.to_string()),
        }
    }

    /// 429 (this session) or 503 (the whole proxy): too much client data is queued for the
    /// MCP servers; the client should retry once they have read it.
    pub(super) fn over_budget(&self, over: OverBudget) -> Response {
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
}
