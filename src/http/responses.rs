//! The HTTP answers the proxy builds itself: JSON-RPC error bodies with their statuses, and
//! the JSON and SSE response shells around a session's messages.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::line_body::line_body;
use crate::frame::{Frame, INVALID_REQUEST, OneLine, SERVER_ERROR};

/// A JSON-RPC error body with an HTTP status, for answers the proxy gives itself.
pub fn rpc_error(status: StatusCode, code: i64, message: &str) -> Response {
    let body = Frame::error_response(Value::Null, code, message, None).to_bytes();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A header's value, if present and visible ASCII.
pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok()
}

/// 404: the session ended or never existed.
pub(super) fn session_not_found() -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        INVALID_REQUEST,
        "session not found (it ended or never existed); send initialize to start a new one",
    )
}

/// 429: the session's mailbox is full.
pub(super) fn session_busy() -> Response {
    with_retry_after(rpc_error(
        StatusCode::TOO_MANY_REQUESTS,
        SERVER_ERROR,
        "this session has too many messages waiting; slow down and retry",
    ))
}

/// Adds `Retry-After: 1` to a refusal that is worth retrying shortly.
pub(super) fn with_retry_after(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// 200 with a JSON body.
pub(super) fn json_response(payload: Bytes) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        payload,
    )
        .into_response()
}

/// `status` with one message as its JSON body, written as the message's pieces.
pub(super) fn json_message_response(status: StatusCode, message: OneLine) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        line_body(message),
    )
        .into_response()
}

/// 400: the `Mcp-Session-Id` header is not visible ASCII, so it names no session.
pub(super) fn invalid_session_header() -> Response {
    rpc_error(
        StatusCode::BAD_REQUEST,
        INVALID_REQUEST,
        "invalid Mcp-Session-Id header (session ids are visible ASCII)",
    )
}
