//! Server-Sent Events bodies: turns a client stream into `text/event-stream` bytes, with the
//! event ids the session assigned (`"{stream}/{seq}"`, for `Last-Event-ID`) and keep-alive
//! comments on idle streams.
//!
//! Each message is written as three chunks (prefix, the already-serialized JSON, suffix) so a
//! large message is never copied.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use prometheus_client::metrics::gauge::Gauge;

use crate::stream::{StreamEnd, StreamEvent, StreamReceiver};

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
}

impl Drop for SseBody {
    fn drop(&mut self) {
        self.gauge.dec();
    }
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
        self.chunks.push_back(payload);
        // Handed to the HTTP body: its room in the session's byte budget is free again.
        drop(charge);
        self.chunks.push_back(Bytes::from_static(b"\n\n"));
        if end != StreamEnd::Open {
            self.finished = true;
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

/// An SSE body that starts with `first` (if any) and then carries the stream until it ends:
/// after the request's answer, or when the session drops its end.
pub fn sse_body(
    first: Option<StreamEvent>,
    rx: StreamReceiver,
    keepalive: Option<Duration>,
    gauge: Gauge,
) -> Body {
    gauge.inc();
    let mut body = SseBody {
        rx,
        chunks: VecDeque::new(),
        keepalive,
        finished: false,
        gauge,
    };
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
    use crate::stream::StreamSender;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn events_carry_ids_and_the_body_ends_after_the_answer() {
        let (mut tx, rx) = StreamSender::channel(7, 8);
        tx.offer(Bytes::from_static(b"{\"n\":1}"), StreamEnd::Open)
            .unwrap();
        tx.offer(Bytes::from_static(b"{\"n\":2}"), StreamEnd::Result)
            .unwrap();
        let gauge = Gauge::default();
        let body = sse_body(None, rx, None, gauge.clone());
        assert_eq!(gauge.get(), 1);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(
            &bytes[..],
            b"id: 7/1\ndata: {\"n\":1}\n\nid: 7/2\ndata: {\"n\":2}\n\n"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_streams_get_keepalive_comments() {
        let (tx, rx) = StreamSender::channel(1, 8);
        let mut body = SseBody {
            rx,
            chunks: VecDeque::new(),
            keepalive: Some(Duration::from_secs(15)),
            finished: false,
            gauge: Gauge::default(),
        };
        assert_eq!(body.next_chunk().await.unwrap(), KEEPALIVE);
        drop(tx);
        assert_eq!(body.next_chunk().await, None);
    }
}
