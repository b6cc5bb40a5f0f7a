//! Server-Sent Events bodies: turns a client stream into `text/event-stream` bytes, with the
//! event ids the session assigned (`"{stream}/{seq}"`, for `Last-Event-ID`) and keep-alive
//! comments on idle streams. A stream that reserved a priming event (2025-11-25 clients) starts
//! with it: its id and empty data, which a client records as the last event id without
//! dispatching anything, so it can resume the stream before the first message.
//!
//! Each message is written as chunks (prefix, the already-serialized JSON as its pieces,
//! suffix) so a large message is never copied.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use prometheus_client::metrics::gauge::Gauge;

use crate::stream::{EventId, StreamEnd, StreamEvent, StreamReceiver};

/// The comment sent on an idle stream so load balancers keep it open.
const KEEPALIVE: &[u8] = b": keep-alive\n\n";

/// State of one SSE body while it streams.
struct SseBody {
    /// Where the session's events arrive.
    rx: StreamReceiver,
    /// Chunks ready to be written.
    chunks: VecDeque<Bytes>,
    /// Idle period after which a keep-alive comment is written.
    keepalive: Option<Duration>,
    /// Set once the request's answer has been queued: the body ends after it.
    finished: bool,
    /// The open-streams gauge, decremented when the body is dropped.
    gauge: Gauge,
    /// Called if the body is dropped before the answer was queued.
    on_unanswered: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for SseBody {
    fn drop(&mut self) {
        self.gauge.dec();
        if let Some(unanswered) = self.on_unanswered.take() {
            unanswered();
        }
    }
}

/// How an SSE response begins and is kept alive.
pub struct SseSetup {
    /// The priming event's id, sent first with empty data, when the stream reserved one.
    pub priming: Option<EventId>,
    /// An event already taken off the stream, sent next.
    pub first: Option<StreamEvent>,
    /// Whether to send a keep-alive comment at once (a response opened before there is any
    /// event to send, for a client that gets no priming event: bytes flow from the start).
    pub comment_first: bool,
    /// Idle period after which a keep-alive comment is written (`None`: never).
    pub keepalive: Option<Duration>,
    /// The open-streams gauge: incremented now, decremented when the body is dropped.
    pub gauge: Gauge,
    /// Called if the body is dropped (the client went away) before the answer was queued.
    pub on_unanswered: Option<Box<dyn FnOnce() + Send>>,
}

impl SseBody {
    fn push(&mut self, event: StreamEvent) {
        let StreamEvent {
            payload,
            end,
            id,
            charge,
        } = event;
        let prefix = format!("id: {id}\ndata: ");
        self.chunks.push_back(Bytes::from(prefix));
        // One line by its type: it cannot end the `data:` line early. A spliced message goes
        // as its pieces, never joined.
        self.chunks.extend(payload.pieces().iter().cloned());
        // Handed to the HTTP body: its room in the session's byte budget is free again.
        drop(charge);
        self.chunks.push_back(Bytes::from_static(b"\n\n"));
        if end != StreamEnd::Open {
            self.finished = true;
            self.on_unanswered = None;
        }
    }

    async fn next_chunk(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.chunks.pop_front() {
                return Some(chunk);
            }
            if self.finished {
                return None;
            }
            let event = match self.keepalive {
                Some(period) => match tokio::time::timeout(period, self.rx.recv()).await {
                    Ok(event) => event,
                    Err(_idle) => return Some(Bytes::from_static(KEEPALIVE)),
                },
                None => self.rx.recv().await,
            };
            self.push(event?);
        }
    }
}

/// An SSE body that starts as `setup` says and then carries the stream until it ends: after
/// the request's answer, or when the session drops its end.
/// 200 with an SSE body: `text/event-stream`, not cached, and not buffered by nginx-style
/// reverse proxies (`X-Accel-Buffering: no`), so each event reaches the client as it is written.
pub fn sse_response(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

pub fn sse_body(setup: SseSetup, rx: StreamReceiver) -> Body {
    let SseSetup {
        priming,
        first,
        comment_first,
        keepalive,
        gauge,
        on_unanswered,
    } = setup;
    gauge.inc();
    let mut body = SseBody {
        rx,
        chunks: VecDeque::new(),
        keepalive,
        finished: false,
        gauge,
        on_unanswered,
    };
    if let Some(id) = priming {
        body.chunks
            .push_back(Bytes::from(format!("id: {id}\ndata: \n\n")));
    }
    if comment_first {
        body.chunks.push_back(Bytes::from_static(KEEPALIVE));
    }
    if let Some(event) = first {
        body.push(event);
    }
    let chunks = futures_util::stream::unfold(body, |mut body| async move {
        let chunk = body.next_chunk().await?;
        Some((Ok::<Bytes, Infallible>(chunk), body))
    });
    Body::from_stream(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OneLine;
    use crate::stream::{Priming, StreamSender};
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn events_carry_ids_and_the_body_ends_after_the_answer() {
        let (mut tx, rx) = StreamSender::open(7, 8, Priming::None);
        tx.offer(OneLine::from_static(b"{\"n\":1}"), StreamEnd::Open)
            .unwrap();
        tx.offer(OneLine::from_static(b"{\"n\":2}"), StreamEnd::Result)
            .unwrap();
        let gauge = Gauge::default();
        let setup = SseSetup {
            priming: None,
            first: None,
            comment_first: false,
            keepalive: None,
            gauge: gauge.clone(),
            on_unanswered: None,
        };
        let body = sse_body(setup, rx);
        assert_eq!(gauge.get(), 1);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(
            &bytes[..],
            b"id: 7/1\ndata: {\"n\":1}\n\nid: 7/2\ndata: {\"n\":2}\n\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_streams_get_keepalive_comments() {
        let (tx, rx) = StreamSender::open(1, 8, Priming::None);
        let mut body = SseBody {
            rx,
            chunks: VecDeque::new(),
            keepalive: Some(Duration::from_secs(15)),
            finished: false,
            gauge: Gauge::default(),
            on_unanswered: None,
        };
        assert_eq!(body.next_chunk().await.unwrap(), KEEPALIVE);
        drop(tx);
        assert_eq!(body.next_chunk().await, None);
    }

    #[tokio::test]
    async fn a_primed_body_starts_with_the_priming_event_and_reports_an_unanswered_drop() {
        let (mut tx, rx) = StreamSender::open(3, 8, Priming::Reserved);
        let unanswered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = unanswered.clone();
        let setup = SseSetup {
            priming: tx.priming_id(),
            first: None,
            comment_first: false,
            keepalive: None,
            gauge: Gauge::default(),
            on_unanswered: Some(Box::new(move || {
                flag.store(true, std::sync::atomic::Ordering::Relaxed)
            })),
        };
        let body = sse_body(setup, rx);
        tx.offer(OneLine::from_static(b"{}"), StreamEnd::Result)
            .unwrap();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"id: 3/1\ndata: \n\nid: 3/2\ndata: {}\n\n");
        assert!(!unanswered.load(std::sync::atomic::Ordering::Relaxed));

        let (_tx, rx) = StreamSender::open(4, 8, Priming::Reserved);
        let flag = unanswered.clone();
        let setup = SseSetup {
            priming: None,
            first: None,
            comment_first: false,
            keepalive: None,
            gauge: Gauge::default(),
            on_unanswered: Some(Box::new(move || {
                flag.store(true, std::sync::atomic::Ordering::Relaxed)
            })),
        };
        drop(sse_body(setup, rx));
        assert!(unanswered.load(std::sync::atomic::Ordering::Relaxed));
    }
}
