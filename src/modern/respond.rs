//! How a modern call is answered over HTTP: JSON when the answer comes first, an SSE stream
//! when a notification for the caller (progress) comes first or nothing came within
//! `--sse-after`. A modern stream is not resumable, so its events carry no `id:` line (a
//! client that sees ids would try to resume with `Last-Event-ID`); idle streams get `:`
//! keep-alive comments, which is also how a vanished client is noticed (the write fails, the
//! body is dropped, and the call cancels itself).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt as _;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;

use super::call::{CallStep, ModernCall};
use super::parked::ParkedCalls;
use super::request_state::Binding;
use super::server_asks::Ask;
use crate::frame::{Frame, INTERNAL_ERROR};
use crate::sse::sse_response;

pub(super) const KEEPALIVE: &[u8] = b": keep-alive\n\n";

/// How the answer to a modern call may be sent.
pub struct Delivery {
    /// A call with no answer yet after this long is answered with SSE.
    pub sse_after: Option<Duration>,
    /// Keep-alive period of an SSE answer.
    pub keepalive: Option<Duration>,
    /// The open-SSE-streams gauge.
    pub gauge: Gauge,
    /// Where the call parks if its child asks the caller something (calls that may ask).
    pub parking: Option<Parking>,
}

/// Where a call that asks its caller something waits for the retry.
pub struct Parking {
    pub parked: Arc<ParkedCalls>,
    /// What the retry must repeat: method, name, arguments.
    pub binding: Binding,
}

impl Parking {
    /// Parks `call` and returns the `InputRequiredResult` for the caller.
    fn park(&self, call: ModernCall, asks: Vec<Ask>) -> Option<Bytes> {
        self.parked.park(call, asks, &self.binding)
    }
}

/// Drives `call` to its HTTP answer.
pub async fn respond(mut call: ModernCall, delivery: Delivery, client_id: Value) -> Response {
    let first = match delivery.sse_after {
        Some(after) => tokio::time::timeout(after, call.next()).await.ok(),
        None => Some(call.next().await),
    };
    match first {
        Some(Some(CallStep::Answer(status, body))) => json(status, body),
        Some(Some(CallStep::Ask(asks))) => match park(&delivery, call, asks) {
            Some(answer) => json(StatusCode::OK, answer),
            None => too_many_parked(client_id),
        },
        Some(Some(CallStep::Event(event))) => sse(call, delivery, Some(event), client_id),
        None => sse(call, delivery, None, client_id),
        Some(None) => ended(client_id),
    }
}

/// Parks a call whose child asked the caller something; `None` if it cannot wait (dropping
/// it cancels the child's request).
fn park(delivery: &Delivery, call: ModernCall, asks: Vec<Ask>) -> Option<Bytes> {
    match &delivery.parking {
        Some(parking) => parking.park(call, asks),
        None => None,
    }
}

fn too_many_parked(client_id: Value) -> Response {
    with_retry_after(refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        client_id,
        INTERNAL_ERROR,
        "too many calls are waiting for their clients' answers; retry shortly",
    ))
}

/// A JSON-RPC error answer under the request's id.
pub fn refuse(status: StatusCode, id: Value, code: i64, message: &str) -> Response {
    json(
        status,
        Frame::error_response(id, code, message, None).to_bytes(),
    )
}

/// `Retry-After: 1` on a refusal the client may simply try again shortly.
pub fn with_retry_after(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// The answer as one JSON body.
pub fn json(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The session ended without an answer (torn down mid-call): a retryable error, never an
/// empty answer.
fn ended(client_id: Value) -> Response {
    with_retry_after(json(StatusCode::SERVICE_UNAVAILABLE, ended_body(client_id)))
}

fn ended_body(client_id: Value) -> Bytes {
    Frame::error_response(
        client_id,
        INTERNAL_ERROR,
        "the MCP server session serving this request ended before answering; retry",
        None,
    )
    .to_bytes()
}

/// State of an SSE answer's body.
struct SseCall {
    /// Taken out when the call parks.
    call: Option<ModernCall>,
    delivery: Delivery,
    keepalive: Option<Duration>,
    /// Set once the answer (or the end) was written.
    done: bool,
    client_id: Value,
    gauge: Gauge,
}

impl Drop for SseCall {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

pub(super) fn event_chunk(data: &[u8]) -> Bytes {
    let mut chunk = Vec::with_capacity(data.len() + 8);
    chunk.extend_from_slice(b"data: ");
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\n\n");
    Bytes::from(chunk)
}

/// The answer as an SSE stream: `first` (or a keep-alive comment when there is nothing yet),
/// then every later step until the answer.
fn sse(call: ModernCall, delivery: Delivery, first: Option<Bytes>, client_id: Value) -> Response {
    delivery.gauge.inc();
    let opening = match first {
        Some(event) => event_chunk(&event),
        None => Bytes::from_static(KEEPALIVE),
    };
    let state = SseCall {
        call: Some(call),
        keepalive: delivery.keepalive,
        done: false,
        client_id,
        gauge: delivery.gauge.clone(),
        delivery,
    };
    let rest = futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        let call = state.call.as_mut()?;
        let step = match state.keepalive {
            Some(period) => match tokio::time::timeout(period, call.next()).await {
                Ok(step) => step,
                Err(_idle) => return Some((Ok(Bytes::from_static(KEEPALIVE)), state)),
            },
            None => call.next().await,
        };
        let chunk = match step {
            Some(CallStep::Event(event)) => event_chunk(&event),
            Some(CallStep::Answer(_, body)) => {
                state.done = true;
                event_chunk(&body)
            }
            Some(CallStep::Ask(asks)) => {
                state.done = true;
                let call = state.call.take()?;
                match park(&state.delivery, call, asks) {
                    Some(answer) => event_chunk(&answer),
                    None => event_chunk(&ended_body(state.client_id.clone())),
                }
            }
            None => {
                state.done = true;
                event_chunk(&ended_body(state.client_id.clone()))
            }
        };
        Some((Ok::<Bytes, std::io::Error>(chunk), state))
    });
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(opening) }).chain(rest);
    sse_response(Body::from_stream(stream))
}
